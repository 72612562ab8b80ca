// Package importer brings statements from files into an LRS through its
// xAPI API (`lrs import`): the same validation, conflict rules and Kafka path
// as any client's statements, streaming whatever the file size, resumable,
// with invalid and conflicting statements reported one by one instead of
// failing the rest.
package importer

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/google/uuid"
)

// Item is one statement read from a file.
type Item struct {
	Index int64 // position in the file, from 0
	Line  int64 // line of an NDJSON file (from 1); 0 in a JSON array
	JSON  []byte
	// Err is set for an element that is not a JSON object; it is rejected
	// without being sent.
	Err error
	// Parts are the attachment bodies sent with the statement (a pull
	// from an LRS that served them).
	Parts []Part
}

// maxLine bounds one NDJSON line (a statement with inline attachments'
// metadata stays far below it).
const maxLine = 16 << 20

// Files expands paths (files or folders, read in name order, recursively)
// into the files to import: *.json, *.ndjson, *.jsonl, optionally .gz.
func Files(paths []string) ([]string, error) {
	var out []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("import: %w", err)
		}
		if !st.IsDir() {
			out = append(out, p)
			continue
		}
		var found []string
		err = filepath.WalkDir(p, func(path string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && importable(path) {
				found = append(found, path)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("import: read folder %s: %w", p, err)
		}
		sort.Strings(found)
		out = append(out, found...)
	}
	if len(out) == 0 {
		return nil, errors.New("import: no files (give files or folders holding *.json, *.ndjson, *.jsonl, optionally .gz)")
	}
	return out, nil
}

func importable(path string) bool {
	name := strings.TrimSuffix(strings.ToLower(path), ".gz")
	return strings.HasSuffix(name, ".json") || strings.HasSuffix(name, ".ndjson") || strings.HasSuffix(name, ".jsonl")
}

// countingReader counts the bytes read from the file itself (compressed
// ones for gzip), for progress against the file's size.
type countingReader struct {
	r io.Reader
	n *int64
}

func (c countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	*c.n += int64(n)
	return n, err
}

// Read calls fn for each statement of r, a JSON array of statements or one
// statement per line (NDJSON), gzip-compressed or not; read counts the bytes
// taken from r. It stops at the first error of fn or of r.
func Read(r io.Reader, read *int64, fn func(Item) error) error {
	br := bufio.NewReaderSize(countingReader{r, read}, 1<<20)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return fmt.Errorf("gzip: %w", err)
		}
		defer zr.Close()
		br = bufio.NewReaderSize(zr, 1<<20)
	}
	first, err := firstByte(br)
	if errors.Is(err, io.EOF) {
		return nil
	}
	if err != nil {
		return err
	}
	if first == '[' {
		return readArray(br, fn)
	}
	return readLines(br, fn)
}

func firstByte(br *bufio.Reader) (byte, error) {
	for {
		b, err := br.ReadByte()
		if err != nil {
			return 0, err
		}
		if b == 0xef { // a UTF-8 byte order mark
			br.Discard(2)
			continue
		}
		if b != ' ' && b != '\t' && b != '\r' && b != '\n' {
			return b, br.UnreadByte()
		}
	}
}

func readArray(br *bufio.Reader, fn func(Item) error) error {
	dec := json.NewDecoder(br)
	if _, err := dec.Token(); err != nil {
		return fmt.Errorf("JSON array: %w", err)
	}
	for i := int64(0); dec.More(); i++ {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			// A syntax error leaves no way to find the next element.
			return fmt.Errorf("JSON array, element %d: %w", i, err)
		}
		if err := fn(item(i, 0, raw)); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil {
		return fmt.Errorf("JSON array: %w", err)
	}
	return nil
}

func readLines(br *bufio.Reader, fn func(Item) error) error {
	sc := bufio.NewScanner(br)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	var i, line int64
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		it := item(i, line, bytes.Clone(b))
		if it.Err == nil && !json.Valid(it.JSON) {
			it.Err = errors.New("not valid JSON")
		}
		if err := fn(it); err != nil {
			return err
		}
		i++
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("line %d: %w", line+1, err)
	}
	return nil
}

func item(i, line int64, raw []byte) Item {
	it := Item{Index: i, Line: line, JSON: raw}
	if len(raw) == 0 || raw[0] != '{' {
		it.Err = errors.New("not a JSON object")
	}
	return it
}

// importNamespace names the ids given to statements that have none.
var importNamespace = uuid.MustParse("5b0f4a3e-8c1d-4c57-9a57-2f9e1b6d7c10")

// WithID returns the statement with an id: its own, or one derived from
// its content and position in the file, so that importing the file again
// (a resumed import, a second run) sends the same ids and stores nothing
// twice, while two identical statements at different positions stay two.
func WithID(it Item) ([]byte, string, error) {
	var probe struct {
		ID *string `json:"id"`
	}
	if err := json.Unmarshal(it.JSON, &probe); err != nil {
		return nil, "", err
	}
	if probe.ID != nil {
		return it.JSON, *probe.ID, nil
	}
	sum := sha256.Sum256(it.JSON)
	id := uuid.NewSHA1(importNamespace, fmt.Appendf(sum[:], ":%d", it.Index)).String()
	out := make([]byte, 0, len(it.JSON)+48)
	out = append(out, `{"id":"`...)
	out = append(out, id...)
	out = append(out, '"')
	rest := bytes.TrimSpace(it.JSON[1:])
	if len(rest) > 0 && rest[0] != '}' {
		out = append(out, ',')
	}
	return append(out, rest...), id, nil
}
