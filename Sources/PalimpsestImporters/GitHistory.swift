import Foundation

/// The commit graph of a branch, read once (`git rev-list --parents`), and the plan the importer
/// follows: the first-parent history, oldest first, with every merge whose side branch is linear and
/// could have been fast-forwarded replaced by that branch's own commits. Deciding that takes no
/// further git process: ancestry is walked in memory.
struct GitHistory {
    /// Commit IDs, in the order rev-list printed them.
    private(set) var ids: [String] = []
    /// Each commit's parents, as indices into `ids` (a parent outside the graph — the boundary of a
    /// shallow clone — is left out, so that commit reads as a root).
    private(set) var parents: [[Int32]] = []
    private var index: [String: Int32] = [:]

    /// A commit to import and the commit its changes are measured against (nil for a root commit).
    struct PlannedCommit: Sendable, Equatable {
        let commit: String
        let parent: String?
    }

    /// Reads every commit reachable from `tip`, reporting the count as it goes.
    static func read(_ repo: GitRepository, tip: String, progress: (Int) -> Void) throws(GitRepository.Failure) -> GitHistory {
        let process = try GitProcess(repository: repo.path, arguments: ["rev-list", "--parents", tip])
        var graph = GitHistory()
        var named: [[String]] = []
        while let line = try process.field(terminatedBy: 0x0A) {
            let ids = line.split(separator: 0x20).map { String(decoding: $0, as: UTF8.self) }
            guard let commit = ids.first else { continue }
            graph.index[commit] = Int32(graph.ids.count)
            graph.ids.append(commit)
            named.append(Array(ids.dropFirst()))
            if graph.ids.count % 4096 == 0 { progress(graph.ids.count) }
        }
        try process.finish()
        graph.parents = named.map { $0.compactMap { graph.index[$0] } }
        progress(graph.ids.count)
        return graph
    }

    /// Builds a graph from (commit, parents) pairs (tests).
    init(commits: [(String, [String])]) {
        for (commit, _) in commits {
            index[commit] = Int32(ids.count)
            ids.append(commit)
        }
        parents = commits.map { $0.1.compactMap { index[$0] } }
    }

    private init() {}

    var count: Int { ids.count }

    /// The plan from `tip` back to the first root, oldest first.
    func plan(tip: String) -> [PlannedCommit] {
        guard let tipIndex = index[tip] else { return [] }
        var mainline: [Int32] = []
        var onMainline = Set<Int32>()
        var c: Int32? = tipIndex
        while let commit = c {
            mainline.append(commit)
            onMainline.insert(commit)
            c = parents[Int(commit)].first
        }
        var plan: [PlannedCommit] = []
        plan.reserveCapacity(mainline.count)
        for commit in mainline.reversed() {
            let ps = parents[Int(commit)]
            if ps.count == 2, let side = inlinableSideBranch(mainline: ps[0], side: ps[1], onMainline: onMainline) {
                var previous = ps[0]
                for s in side {
                    plan.append(PlannedCommit(commit: ids[Int(s)], parent: ids[Int(previous)]))
                    previous = s
                }
                // Whatever the merge itself changed beyond the side branch's tip.
                plan.append(PlannedCommit(commit: ids[Int(commit)], parent: ids[Int(ps[1])]))
            } else {
                plan.append(PlannedCommit(commit: ids[Int(commit)], parent: ps.first.map { ids[Int($0)] }))
            }
        }
        return plan
    }

    /// The side branch's commits, oldest first, when the merge could have been a fast-forward: the
    /// side parent reaches the mainline parent through commits of one parent each, without meeting
    /// the mainline anywhere else (the walk stops there, or at a merge or a root, so it is as long as
    /// the side branch).
    private func inlinableSideBranch(mainline: Int32, side: Int32, onMainline: Set<Int32>) -> [Int32]? {
        var chain: [Int32] = []
        var c = side
        while c != mainline {
            if onMainline.contains(c) { return nil }
            let ps = parents[Int(c)]
            guard ps.count == 1 else { return nil }
            chain.append(c)
            c = ps[0]
        }
        return chain.isEmpty ? nil : chain.reversed()
    }
}
