import ArgumentParser
import Foundation
import Palimpsest
import PalimpsestImporters

struct ImportGit: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "git",
        abstract: "Import the history of the text files in a git repository (first parent, oldest first).",
        discussion: """
            One event per path whose text changed: a path that becomes a text file is published (or
            restored), edited while it stays one, and retracted when it is deleted or becomes a
            symbolic link, a submodule, a binary file or a file over the limit; renamed = the old path
            retracted and the new one published as its variant. Changes among binary files, links and
            submodules are passed over and counted. Actor = author, at = author date, source =
            "<repo>@<commit>", message = the commit's subject. A merge whose side branch is linear and
            could have been fast-forwarded is replaced by that branch's commits, so changes are credited
            to who wrote them. Work trees and bare repositories; a shallow clone imports what it has,
            said in the summary. Importing again adds nothing; an interrupted import, run again,
            continues.
            """
    )

    @OptionGroup var location: LedgerOptions
    @Argument(help: "The repository (its work tree or its .git directory).") var repository: String
    @Option(help: ArgumentHelp("Only paths matching this glob (e.g. 'Policies/*.md').", valueName: "glob")) var path: String?
    @Option(help: ArgumentHelp("The branch or commit to follow (default: HEAD).", valueName: "branch")) var branch: String?
    @Option(help: ArgumentHelp("How files that are not UTF-8 are encoded: latin1, windows-1252, utf-16 (default: refuse them).", valueName: "name"))
    var encoding: String?
    @Option(name: .customLong("doc-prefix"), help: ArgumentHelp("Put this before every path to make its document ID.", valueName: "prefix"))
    var documentPrefix: String = ""
    @OptionGroup var wait: ImportWaitOptions
    @OptionGroup var output: OutputOptions

    static let encodings: [String: String.Encoding] = [
        "utf-8": .utf8, "utf8": .utf8, "latin1": .isoLatin1, "iso-8859-1": .isoLatin1,
        "windows-1252": .windowsCP1252, "cp1252": .windowsCP1252, "utf-16": .utf16, "ascii": .ascii,
    ]

    func validate() throws {
        if let encoding, Self.encodings[encoding.lowercased()] == nil {
            throw ValidationError("--encoding \"\(encoding)\" is not one of \(Self.encodings.keys.sorted().joined(separator: ", "))")
        }
    }

    func run() throws {
        let ledger = try location.open()
        var importer = GitImporter(ledger: ledger)
        importer.pathGlob = path
        importer.branch = branch
        importer.encoding = encoding.flatMap { Self.encodings[$0.lowercased()] }
        importer.documentPrefix = documentPrefix
        importer.bulk.waitForProjections = !wait.noWait
        let summary = try withProgress { progress in try importer.run(repository: repository, progress: progress) }
        report(summary, source: repository, json: output.json)
    }
}

