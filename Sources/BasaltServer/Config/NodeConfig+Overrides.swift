import Yams

extension NodeConfig {
    /// The configuration with the setting named by YAML key `key` set from `text`, read as that
    /// key's YAML scalar would be (`seeds` takes a comma-separated list). How command-line flags and
    /// environment variables override the file, so every setting has one parser and one error text.
    public func setting(_ key: String, to text: String) throws(NodeConfigError) -> NodeConfig {
        var c = self
        try c.set(key, Yams.Node.scalar(.init(text)))
        return c
    }

    /// The environment variable that overrides YAML key `key`: `BASALT_` and the key in capitals
    /// (`listen_address` → `BASALT_LISTEN_ADDRESS`).
    public static func environmentVariable(for key: String) -> String { "BASALT_" + key.uppercased() }

    /// Applies every `BASALT_<KEY>` variable of `environment` that names a setting; problems name the
    /// variable. Variables that name no setting are ignored (the environment holds other things).
    public func loading(environment: [String: String]) throws(NodeConfigError) -> NodeConfig {
        var c = self
        var problems = [String]()
        for key in NodeConfig.yamlKeys {
            let name = NodeConfig.environmentVariable(for: key)
            guard let value = environment[name] else { continue }
            do { c = try c.setting(key, to: value) } catch {
                problems.append("\(name): " + error.problems.joined(separator: "; "))
            }
        }
        if !problems.isEmpty { throw NodeConfigError(problems) }
        return c
    }
}
