extension CQLParser {
    mutating func createStatement() throws(CQLSyntaxError) -> Statement {
        try expectWord("create")
        if acceptWord("keyspace") || acceptWord("schema") {
            let ine = try ifNotExists()
            let name = try identifier("keyspace name")
            try expectWord("with")
            return .createKeyspace(CreateKeyspaceStatement(name: name, ifNotExists: ine, properties: try properties()))
        }
        if acceptWord("table") || acceptWord("columnfamily") { return .createTable(try createTable()) }
        if isWord("custom") || isWord("index") {
            let custom = acceptWord("custom")
            try expectWord("index")
            return .createIndex(try createIndex(custom: custom))
        }
        if acceptWord("role") { return .auth(try roleStatement(create: true)) }
        if acceptWord("user") { return .auth(try userStatement(create: true)) }
        if case let .word(w) = current.kind {
            switch w {
            case "type": throw unsupported("CREATE TYPE (user-defined types)")
            case "function", "aggregate", "or": throw unsupported("user-defined functions and aggregates")
            case "materialized": throw unsupported("CREATE MATERIALIZED VIEW")
            case "trigger": throw unsupported("CREATE TRIGGER")
            default: break
            }
        }
        throw mismatch(expecting: "KEYSPACE, TABLE or INDEX")
    }

    mutating func createTable() throws(CQLSyntaxError) -> CreateTableStatement {
        let ine = try ifNotExists()
        let name = try qualifiedName("table name")
        try expectSymbol("(")
        var columns = [ColumnDeclaration]()
        var partition = [String]()
        var clustering = [String]()
        var sawKeyClause = false
        repeat {
            if isWord("primary") {
                advance()
                try expectWord("key")
                if sawKeyClause { throw failure("multiple PRIMARY KEY specifications") }
                sawKeyClause = true
                try expectSymbol("(")
                if acceptSymbol("(") {
                    repeat { partition.append(try identifier("column name")) } while acceptSymbol(",")
                    try expectSymbol(")")
                } else {
                    partition.append(try identifier("column name"))
                }
                while acceptSymbol(",") { clustering.append(try identifier("column name")) }
                try expectSymbol(")")
            } else if atEnd || current.isSymbol(")") {
                break // a trailing comma before ')'
            } else {
                let col = try identifier("column name")
                let t = try type()
                var isStatic = false
                var isPK = false
                if acceptWord("static") { isStatic = true }
                if acceptWord("primary") {
                    try expectWord("key")
                    isPK = true
                }
                columns.append(ColumnDeclaration(name: col, type: t, isStatic: isStatic, isPrimaryKey: isPK))
            }
        } while acceptSymbol(",")
        try expectSymbol(")")
        var order = [ClusteringOrder]()
        var props = Properties()
        if acceptWord("with") {
            repeat {
                if acceptWord("clustering") {
                    try expectWord("order")
                    try expectWord("by")
                    try expectSymbol("(")
                    repeat {
                        let c = try identifier("column name")
                        var desc = false
                        if acceptWord("desc") { desc = true } else if !acceptWord("asc") { throw mismatch(expecting: "ASC or DESC") }
                        order.append(ClusteringOrder(column: c, descending: desc))
                    } while acceptSymbol(",")
                    try expectSymbol(")")
                } else if isWord("compact") {
                    throw unsupported("COMPACT STORAGE")
                } else {
                    let pname = try propertyName()
                    try expectSymbol("=")
                    props.append(Property(name: pname, value: try propertyValue()))
                }
            } while acceptWord("and")
        }
        return CreateTableStatement(name: name, ifNotExists: ine, columns: columns, partitionKey: partition, clustering: clustering,
                                    clusteringOrder: order, properties: props)
    }

    mutating func createIndex(custom: Bool) throws(CQLSyntaxError) -> CreateIndexStatement {
        let ine = try ifNotExists()
        var name: String?
        if !isWord("on") { name = try identifier("index name") }
        try expectWord("on")
        let table = try qualifiedName("table name")
        try expectSymbol("(")
        var target: String?
        var column: String
        if case let .word(w) = current.kind, ["keys", "values", "entries", "full"].contains(w), peek(1).isSymbol("(") {
            advance()
            advance()
            target = w
            column = try identifier("column name")
            try expectSymbol(")")
        } else {
            column = try identifier("column name")
        }
        try expectSymbol(")")
        var using: String?
        var options = [(String, String)]()
        if acceptWord("using") {
            guard case let .string(s) = current.kind else { throw mismatch(expecting: "an index class name string") }
            advance()
            using = s
        }
        if acceptWord("with") {
            try expectWord("options")
            try expectSymbol("=")
            guard case let .map(m) = try propertyValue() else { throw failure("OPTIONS must be a map") }
            options = m
        }
        return CreateIndexStatement(name: name, table: table, ifNotExists: ine, isCustom: custom, column: column, target: target,
                                    using: using, options: options)
    }

    mutating func alterStatement() throws(CQLSyntaxError) -> Statement {
        try expectWord("alter")
        if acceptWord("keyspace") || acceptWord("schema") {
            _ = try ifExists()
            let name = try identifier("keyspace name")
            try expectWord("with")
            return .alterKeyspace(CreateKeyspaceStatement(name: name, ifNotExists: false, properties: try properties()))
        }
        if acceptWord("table") || acceptWord("columnfamily") {
            let ie = try ifExists()
            let table = try qualifiedName("table name")
            let action: AlterTableStatement.Action
            if acceptWord("add") {
                let ine = try ifNotExists()
                var cols = [ColumnDeclaration]()
                if acceptSymbol("(") {
                    repeat { cols.append(try addedColumn()) } while acceptSymbol(",")
                    try expectSymbol(")")
                } else {
                    cols.append(try addedColumn())
                }
                action = .add(cols, ifNotExists: ine)
            } else if acceptWord("drop") {
                let ie2 = try ifExists()
                var cols = [String]()
                if acceptSymbol("(") {
                    repeat { cols.append(try identifier("column name")) } while acceptSymbol(",")
                    try expectSymbol(")")
                } else {
                    cols.append(try identifier("column name"))
                }
                action = .drop(cols, ifExists: ie2)
            } else if acceptWord("with") {
                action = .with(try properties())
            } else if acceptWord("rename") {
                _ = try ifExists()
                var pairs = [(String, String)]()
                repeat {
                    let from = try identifier("column name")
                    try expectWord("to")
                    pairs.append((from, try identifier("column name")))
                } while acceptWord("and")
                action = .rename(pairs)
            } else if isWord("alter") {
                throw unsupported("ALTER TABLE ... ALTER (changing a column's type)")
            } else {
                throw mismatch(expecting: "ADD, DROP, RENAME or WITH")
            }
            return .alterTable(AlterTableStatement(table: table, ifExists: ie, action: action))
        }
        if acceptWord("role") { return .auth(try roleStatement(create: false)) }
        if acceptWord("user") { return .auth(try userStatement(create: false)) }
        throw mismatch(expecting: "KEYSPACE or TABLE")
    }

    mutating func addedColumn() throws(CQLSyntaxError) -> ColumnDeclaration {
        let name = try identifier("column name")
        let t = try type()
        let isStatic = acceptWord("static")
        return ColumnDeclaration(name: name, type: t, isStatic: isStatic, isPrimaryKey: false)
    }

    mutating func dropStatement() throws(CQLSyntaxError) -> Statement {
        try expectWord("drop")
        if acceptWord("keyspace") || acceptWord("schema") {
            let ie = try ifExists()
            return .dropKeyspace(try identifier("keyspace name"), ifExists: ie)
        }
        if acceptWord("table") || acceptWord("columnfamily") {
            let ie = try ifExists()
            return .dropTable(try qualifiedName("table name"), ifExists: ie)
        }
        if acceptWord("index") {
            let ie = try ifExists()
            return .dropIndex(try qualifiedName("index name"), ifExists: ie)
        }
        if case let .word(w) = current.kind {
            switch w {
            case "role", "user":
                advance()
                let ie = try ifExists()
                return .auth(.dropRole(try roleName(), ifExists: ie, isUser: w == "user"))
            case "type": throw unsupported("DROP TYPE (user-defined types)")
            case "function", "aggregate": throw unsupported("user-defined functions and aggregates")
            case "materialized": throw unsupported("DROP MATERIALIZED VIEW")
            default: break
            }
        }
        throw mismatch(expecting: "KEYSPACE, TABLE or INDEX")
    }

    mutating func describeStatement() throws(CQLSyntaxError) -> DescribeStatement {
        advance() // DESCRIBE or DESC
        let full = acceptWord("full")
        if acceptWord("schema") { return .schema(full: full) }
        if full { throw mismatch(expecting: "SCHEMA") }
        let only = acceptWord("only")
        guard case let .word(w) = current.kind else {
            if atIdentifier { return .name(try qualifiedName()) }
            throw noViableAlternative(expecting: "what to describe")
        }
        let d: DescribeStatement
        switch w {
        case "cluster": advance(); d = .cluster
        case "keyspaces": advance(); d = .keyspaces
        case "keyspace":
            advance()
            d = .keyspace(atIdentifier ? try identifier("keyspace name") : nil, onlyKeyspace: only)
        case "tables": advance(); d = .tables
        case "table", "columnfamily": advance(); d = .table(try qualifiedName("table name"))
        case "index": advance(); d = .index(try qualifiedName("index name"))
        case "types": advance(); d = .types
        case "functions": advance(); d = .functions
        case "aggregates": advance(); d = .aggregates
        default:
            if only { throw mismatch(expecting: "KEYSPACE") }
            d = .name(try qualifiedName())
        }
        // `WITH INTERNALS` is accepted and has no effect.
        if acceptWord("with") { try expectWord("internals") }
        return d
    }
}
