// tlog-check verifies a served Palimpsest ledger with Go's reference transparency-log packages
// (golang.org/x/mod/sumdb/note and sumdb/tlog), knowing nothing of Palimpsest:
//
//  1. fetches BASE/checkpoint and verifies the signed note with the verifier key
//     (`palimpsest checkpoint --public-key --note-format`);
//  2. parses the checkpoint (c2sp.org/tlog-checkpoint: origin, tree size, base64 root);
//  3. reads the tree through BASE/tile/<L>/<N>[.p/<W>] (c2sp.org/tlog-tiles) with tlog's
//     TileHashReader, which checks every tile against the signed root, and recomputes the root;
//  4. fetches every entry bundle BASE/tile/entries/<N>, checks that each leaf hash
//     SHA-256(0x00 ‖ entry) is the tree's stored leaf, and proves and checks every entry's inclusion.
//
// Usage: go run tools/tlog-check/main.go BASE-URL VERIFIER-KEY
// Build (Debian: golang-go, golang-golang-x-mod-dev): GO111MODULE=off GOPATH=/usr/share/gocode go build
package main

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

func fetch(url string) ([]byte, error) {
	resp, err := http.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("GET %s: %s: %s", url, resp.Status, strings.TrimSpace(string(body)))
	}
	return body, nil
}

// c2spPath turns Go's sumdb tile path (tile/H/L/N, tile/H/data/N) into tlog-tiles' (tile/L/N, tile/entries/N).
func c2spPath(t tlog.Tile) string {
	parts := strings.SplitN(t.Path(), "/", 3) // "tile", H, rest
	rest := parts[2]
	if strings.HasPrefix(rest, "data/") {
		rest = "entries/" + strings.TrimPrefix(rest, "data/")
	}
	return "tile/" + rest
}

type tileReader struct{ base string }

func (r tileReader) Height() int { return 8 }

func (r tileReader) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		data, err := fetch(r.base + "/" + c2spPath(t))
		if err != nil {
			return nil, err
		}
		out[i] = data
	}
	return out, nil
}

func (r tileReader) SaveTiles(tiles []tlog.Tile, data [][]byte) {}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "tlog-check: "+format+"\n", args...)
	os.Exit(1)
}

func main() {
	if len(os.Args) != 3 {
		fail("usage: tlog-check BASE-URL VERIFIER-KEY")
	}
	base := strings.TrimSuffix(os.Args[1], "/")
	verifier, err := note.NewVerifier(os.Args[2])
	if err != nil {
		fail("the verifier key: %v", err)
	}
	raw, err := fetch(base + "/checkpoint")
	if err != nil {
		fail("%v", err)
	}
	n, err := note.Open(raw, note.VerifierList(verifier))
	if err != nil {
		fail("the checkpoint note does not verify: %v", err)
	}
	lines := strings.Split(n.Text, "\n")
	if len(lines) < 4 || lines[0] != verifier.Name() {
		fail("the checkpoint's origin %q is not the key's name %q", lines[0], verifier.Name())
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || size < 0 {
		fail("the checkpoint's tree size %q is not a number", lines[1])
	}
	rootBytes, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(rootBytes) != tlog.HashSize {
		fail("the checkpoint's root %q is not a base64 SHA-256 hash", lines[2])
	}
	var root tlog.Hash
	copy(root[:], rootBytes)
	tree := tlog.Tree{N: size, Hash: root}
	reader := tlog.TileHashReader(tree, tileReader{base})
	computed, err := tlog.TreeHash(size, reader)
	if err != nil {
		fail("reading the tree from its tiles: %v", err)
	}
	if computed != root {
		fail("the tiles give the root %v, the checkpoint says %v", computed, root)
	}
	// Entries: every bundle up to the tree size, each leaf checked and proved.
	checked := int64(0)
	for tile := int64(0); tile*256 < size; tile++ {
		width := size - tile*256
		if width > 256 {
			width = 256
		}
		t := tlog.Tile{H: 8, L: -1, N: tile, W: int(width)}
		data, err := fetch(base + "/" + c2spPath(t))
		if err != nil {
			fail("%v", err)
		}
		for k := int64(0); k < width; k++ {
			if len(data) < 2 {
				fail("entry bundle %d ends before entry %d", tile, k)
			}
			length := int(data[0])<<8 | int(data[1])
			if len(data) < 2+length {
				fail("entry bundle %d: entry %d is cut short", tile, k)
			}
			entry := data[2 : 2+length]
			data = data[2+length:]
			index := tile*256 + k
			leaf := tlog.RecordHash(entry)
			stored, err := reader.ReadHashes([]int64{tlog.StoredHashIndex(0, index)})
			if err != nil {
				fail("reading leaf %d: %v", index, err)
			}
			if stored[0] != leaf {
				fail("entry %d hashes to %v but the tree's leaf is %v", index, leaf, stored[0])
			}
			proof, err := tlog.ProveRecord(size, index, reader)
			if err != nil {
				fail("proving entry %d: %v", index, err)
			}
			if err := tlog.CheckRecord(proof, size, root, index, leaf); err != nil {
				fail("the inclusion proof of entry %d does not check: %v", index, err)
			}
			checked++
		}
		if len(bytes.TrimSpace(data)) != 0 {
			fail("entry bundle %d has bytes after its %d entries", tile, width)
		}
	}
	fmt.Printf("ok: %s, %d entries, root %s; note signature, tiles, entries and %d inclusion proofs verified\n", verifier.Name(), size, lines[2], checked)
}
