"""PasswordAuthenticator: SASL PLAIN with the configured superuser; wrong credentials get
AuthenticationFailed. Runs a standalone node with authentication on."""
import pytest
from cassandra.auth import PlainTextAuthProvider
from cassandra.cluster import Cluster, NoHostAvailable

ADDRESS_BASE = 4
STANDALONE_FLAGS = ["--superuser", "admin", "--superuser-password", "s3cret"]


def test_password_authentication(basalt_cluster):
    good = Cluster(contact_points=basalt_cluster.addresses, auth_provider=PlainTextAuthProvider("admin", "s3cret"))
    try:
        s = good.connect()
        assert s.execute("SELECT release_version FROM system.local").one()[0] == "5.0.0"
    finally:
        good.shutdown()
    for provider in (PlainTextAuthProvider("admin", "wrong"), None):
        bad = Cluster(contact_points=basalt_cluster.addresses, auth_provider=provider)
        try:
            with pytest.raises(NoHostAvailable) as info:
                bad.connect()
            assert "Authentication" in str(info.value) or "authenticat" in str(info.value).lower()
        finally:
            bad.shutdown()
