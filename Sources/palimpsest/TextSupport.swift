import ArgumentParser
import Palimpsest
import PalimpsestPresentation
import PalimpsestText

/// A word diff as plain text: [-removed-], {+added+}, [<n:moved away<], {>n:moved here>}.
func marked(_ pieces: [TextDiff.Piece]) -> String {
    var out = ""
    for p in pieces {
        // A mark closes before the line break it contains, so that every printed line is whole.
        let body = p.text.hasSuffix("\n") ? String(p.text.dropLast()) : p.text
        let end = p.text.hasSuffix("\n") ? "\n" : ""
        switch p.kind {
        case .same: out += p.text
        case .removed: out += "[-\(body)-]" + end
        case .added: out += "{+\(body)+}" + end
        case .movedAway: out += "[<\(p.move ?? 0):\(body)<]" + end
        case .movedHere: out += "{>\(p.move ?? 0):\(body)>}" + end
        }
    }
    return out
}

/// Runs a library parser in `validate()`, turning its invalid-input error into ArgumentParser's
/// usage error (exit 2 with the usage hint).
func validated<T>(_ body: () throws(LedgerError) -> T) throws -> T {
    do {
        return try body()
    } catch {
        throw ValidationError(error.message)
    }
}

extension String {
    func leftPadded(_ width: Int, _ pad: Character) -> String {
        count >= width ? self : String(repeating: pad, count: width - count) + self
    }
}
