#ifndef BASALT_CTLS_SHIM_H
#define BASALT_CTLS_SHIM_H
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

/* OpenSSL's function-like macros, as functions Swift can call. */

static inline int basalt_ssl_ctx_set_min_proto(SSL_CTX *ctx, int version) {
    return (int)SSL_CTX_set_min_proto_version(ctx, version);
}

static inline int basalt_ssl_ctx_set_max_proto(SSL_CTX *ctx, int version) {
    return (int)SSL_CTX_set_max_proto_version(ctx, version);
}

/* Frees the record buffers of idle connections (a few tens of KiB each) and refuses renegotiation. */
static inline void basalt_ssl_ctx_defaults(SSL_CTX *ctx) {
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
}

/* The private key in the PEM file `path`, decrypted with `password` when it is encrypted (NULL or "" for
 * none); NULL on failure (the reason is on OpenSSL's error queue). */
static inline EVP_PKEY *basalt_read_private_key(const char *path, const char *password) {
    BIO *bio = BIO_new_file(path, "r");
    if (bio == NULL) return NULL;
    EVP_PKEY *key = PEM_read_bio_PrivateKey(bio, NULL, NULL, (void *)(password != NULL ? password : ""));
    BIO_free(bio);
    return key;
}
/* A memory BIO that reports "retry" rather than end of stream when empty, as a socket with no data
 * yet would. */
static inline BIO *basalt_bio_new_mem(void) {
    BIO *bio = BIO_new(BIO_s_mem());
    if (bio != NULL) BIO_set_mem_eof_return(bio, -1);
    return bio;
}
#endif
