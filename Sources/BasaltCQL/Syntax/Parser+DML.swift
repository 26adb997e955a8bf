extension CQLParser {
    /// `USING TTL t AND TIMESTAMP ts` (either order, either alone).
    mutating func usingClause(allowTTL: Bool = true) throws(CQLSyntaxError) -> UsingClause {
        var u = UsingClause()
        guard acceptWord("using") else { return u }
        repeat {
            if allowTTL, acceptWord("ttl") {
                u.ttl = try term()
            } else if acceptWord("timestamp") {
                u.timestamp = try term()
            } else {
                throw mismatch(expecting: allowTTL ? "TTL or TIMESTAMP" : "TIMESTAMP")
            }
        } while acceptWord("and")
        return u
    }

    mutating func insertStatement() throws(CQLSyntaxError) -> InsertStatement {
        try expectWord("insert")
        try expectWord("into")
        let table = try qualifiedName("table name")
        if isWord("json") { throw unsupported("INSERT ... JSON") }
        try expectSymbol("(")
        var columns = [String]()
        repeat { columns.append(try identifier("column name")) } while acceptSymbol(",")
        try expectSymbol(")")
        try expectWord("values")
        try expectSymbol("(")
        var values = [Term]()
        repeat { values.append(try term()) } while acceptSymbol(",")
        try expectSymbol(")")
        let ine = try ifNotExists()
        let using = try usingClause()
        return InsertStatement(table: table, columns: columns, values: values, ifNotExists: ine, using: using)
    }

    mutating func updateStatement() throws(CQLSyntaxError) -> UpdateStatement {
        try expectWord("update")
        let table = try qualifiedName("table name")
        let using = try usingClause()
        try expectWord("set")
        var assignments = [Assignment]()
        repeat { assignments.append(try assignment()) } while acceptSymbol(",")
        try expectWord("where")
        let relations = try whereClause()
        return UpdateStatement(table: table, using: using, assignments: assignments, whereClause: relations, condition: try writeCondition())
    }

    mutating func assignment() throws(CQLSyntaxError) -> Assignment {
        let column = try identifier("column name")
        if acceptSymbol("[") {
            let key = try term()
            try expectSymbol("]")
            try expectSymbol("=")
            return .setElement(column, key: key, value: try term())
        }
        if acceptSymbol("+=") { return .append(column, try term()) }
        if acceptSymbol("-=") { return .remove(column, try term()) }
        try expectSymbol("=")
        // `c = c + v`, `c = c - v`, `c = v + c`, or `c = v`.
        if case let .word(w) = current.kind, w == column, peek(1).isSymbol("+") || peek(1).isSymbol("-") {
            advance()
            let plus = current.isSymbol("+")
            advance()
            let v = try term()
            return plus ? .append(column, v) : .remove(column, v)
        }
        if case let .quotedName(n) = current.kind, n == column, peek(1).isSymbol("+") || peek(1).isSymbol("-") {
            advance()
            let plus = current.isSymbol("+")
            advance()
            let v = try term()
            return plus ? .append(column, v) : .remove(column, v)
        }
        let v = try term()
        if acceptSymbol("+") {
            let other = try identifier("column name")
            guard other == column else { throw failure("Only expressions of the form X = <value> + X are supported.") }
            return .prepend(column, v)
        }
        return .set(column, v)
    }

    /// `IF EXISTS`, `IF NOT EXISTS` or `IF c = v AND …` after a write.
    mutating func writeCondition() throws(CQLSyntaxError) -> WriteCondition? {
        guard acceptWord("if") else { return nil }
        if acceptWord("exists") { return .ifExists }
        if acceptWord("not") {
            try expectWord("exists")
            return .ifNotExists
        }
        return .columns(try whereClause())
    }

    mutating func deleteStatement() throws(CQLSyntaxError) -> DeleteStatement {
        try expectWord("delete")
        var targets = [DeleteTarget]()
        if !isWord("from") {
            repeat {
                let c = try identifier("column name")
                if acceptSymbol("[") {
                    let k = try term()
                    try expectSymbol("]")
                    targets.append(.element(c, k))
                } else {
                    targets.append(.column(c))
                }
            } while acceptSymbol(",")
        }
        try expectWord("from")
        let table = try qualifiedName("table name")
        let using = try usingClause(allowTTL: false)
        try expectWord("where")
        let relations = try whereClause()
        return DeleteStatement(targets: targets, table: table, using: using, whereClause: relations, condition: try writeCondition())
    }

    mutating func batchStatement() throws(CQLSyntaxError) -> BatchStatement {
        try expectWord("begin")
        var kind = BatchStatement.Kind.logged
        if acceptWord("unlogged") { kind = .unlogged } else if acceptWord("counter") { kind = .counter }
        try expectWord("batch")
        let using = try usingClause(allowTTL: false)
        var statements = [Statement]()
        while !isWord("apply") {
            guard case let .word(w) = current.kind else { throw mismatch(expecting: "INSERT, UPDATE, DELETE or APPLY") }
            switch w {
            case "insert": statements.append(.insert(try insertStatement()))
            case "update": statements.append(.update(try updateStatement()))
            case "delete": statements.append(.delete(try deleteStatement()))
            default: throw mismatch(expecting: "INSERT, UPDATE, DELETE or APPLY")
            }
            while acceptSymbol(";") {}
        }
        try expectWord("apply")
        try expectWord("batch")
        return BatchStatement(kind: kind, using: using, statements: statements)
    }

    // MARK: - WHERE

    mutating func whereClause() throws(CQLSyntaxError) -> [Relation] {
        var out = [Relation]()
        repeat { out.append(try relation()) } while acceptWord("and")
        return out
    }

    mutating func relationOperator() throws(CQLSyntaxError) -> RelationOperator {
        if case let .symbol(s) = current.kind, let op = RelationOperator(rawValue: s) {
            advance()
            return op
        }
        if acceptWord("in") { return .in }
        if acceptWord("contains") { return acceptWord("key") ? .containsKey : .contains }
        throw mismatch(expecting: "a relation operator")
    }

    mutating func relation() throws(CQLSyntaxError) -> Relation {
        let target: RelationTarget
        if acceptWord("token") {
            try expectSymbol("(")
            var cols = [String]()
            repeat { cols.append(try identifier("column name")) } while acceptSymbol(",")
            try expectSymbol(")")
            target = .token(cols)
        } else if acceptSymbol("(") {
            var cols = [String]()
            repeat { cols.append(try identifier("column name")) } while acceptSymbol(",")
            try expectSymbol(")")
            target = .columns(cols)
        } else {
            let name = try identifier("column name")
            if acceptSymbol("[") {
                let key = try term()
                try expectSymbol("]")
                target = .element(name, key: key)
            } else {
                target = .column(name)
            }
        }
        let op = try relationOperator()
        if op == .in {
            if acceptSymbol("(") {
                var values = [Term]()
                if !acceptSymbol(")") {
                    repeat { values.append(try term()) } while acceptSymbol(",")
                    try expectSymbol(")")
                }
                return Relation(target: target, op: op, value: nil, inValues: values)
            }
            return Relation(target: target, op: op, value: try term(), inValues: nil)
        }
        return Relation(target: target, op: op, value: try term(), inValues: nil)
    }

    // MARK: - SELECT

    mutating func selectStatement() throws(CQLSyntaxError) -> SelectStatement {
        try expectWord("select")
        // JSON and DISTINCT are modifiers unless they are the name of a selected column.
        let json = isModifier("json") && acceptWord("json")
        let distinct = isModifier("distinct") && acceptWord("distinct")
        var selection = [SelectClause]()
        if !acceptSymbol("*") {
            repeat {
                let s = try selector()
                var alias: String?
                if acceptWord("as") { alias = try identifier("alias") }
                selection.append(SelectClause(selector: s, alias: alias))
            } while acceptSymbol(",")
        }
        try expectWord("from")
        let table = try qualifiedName("table name")
        var relations = [Relation]()
        if acceptWord("where") { relations = try whereClause() }
        if isWord("group") { throw unsupported("GROUP BY") }
        var ordering: SelectStatement.Ordering?
        if acceptWord("order") {
            try expectWord("by")
            ordering = try orderings()
        }
        var perPartition: Term?
        var limit: Term?
        if acceptWord("per") {
            try expectWord("partition")
            try expectWord("limit")
            perPartition = try term()
        }
        if acceptWord("limit") { limit = try term() }
        var allowFiltering = false
        if acceptWord("allow") {
            try expectWord("filtering")
            allowFiltering = true
        }
        return SelectStatement(distinct: distinct, json: json, selection: selection, table: table, whereClause: relations, ordering: ordering,
                               perPartitionLimit: perPartition, limit: limit, allowFiltering: allowFiltering)
    }

    /// `ORDER BY c [ASC|DESC], …` or `ORDER BY v ANN OF <vector> [ASC]`. An ANN ordering must be
    /// the only one and ascending; other combinations are refused as Cassandra 5 refuses them.
    mutating func orderings() throws(CQLSyntaxError) -> SelectStatement.Ordering {
        var cols = [ClusteringOrder]()
        var ann: (column: String, vector: Term)?
        var annCount = 0
        repeat {
            let c = try identifier("column name")
            if acceptWord("ann") {
                try expectWord("of")
                let v = try term()
                annCount += 1
                if acceptWord("desc") { throw invalidRequest("Descending ANN ordering is not supported") }
                _ = acceptWord("asc")
                ann = (c, v)
            } else {
                cols.append(ClusteringOrder(column: c, descending: try orderDirection()))
            }
        } while acceptSymbol(",")
        if annCount > 1 { throw invalidRequest("Cannot specify more than one ANN ordering") }
        if let ann {
            if !cols.isEmpty { throw invalidRequest("ANN ordering does not support any other ordering") }
            return .ann(column: ann.column, vector: ann.vector)
        }
        return .columns(cols)
    }

    func isModifier(_ word: String) -> Bool {
        isWord(word) && !(peek(1).isWord("from") || peek(1).isSymbol(",") || peek(1).isWord("as"))
    }

    mutating func acceptIntegerOne() -> Bool {
        guard case .integer("1") = current.kind else { return false }
        advance()
        return true
    }

    mutating func orderDirection() throws(CQLSyntaxError) -> Bool {
        if acceptWord("desc") { return true }
        _ = acceptWord("asc")
        return false
    }

    mutating func selector() throws(CQLSyntaxError) -> Selector {
        try enter()
        defer { leave() }
        switch current.kind {
        case let .word(w) where peek(1).isSymbol("("):
            advance()
            advance()
            if w == "count", acceptSymbol("*") || acceptIntegerOne() {
                try expectSymbol(")")
                return .countRows
            }
            if w == "cast" { throw unsupported("CAST") }
            var args = [Selector]()
            if !acceptSymbol(")") {
                repeat { args.append(try selector()) } while acceptSymbol(",")
                try expectSymbol(")")
            }
            return .function(w, args)
        case .word, .quotedName:
            if atIdentifier { return .column(try identifier("column name")) }
            return .term(try term())
        default:
            return .term(try term())
        }
    }
}
