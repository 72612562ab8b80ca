package xapiservice

import (
	"bytes"
	"fmt"
	"net/http"
	"time"

	"github.com/streamlrs/streamlrs/pkg/auth"
	"github.com/streamlrs/streamlrs/pkg/jsonscan"
	"github.com/streamlrs/streamlrs/pkg/stream"
	"github.com/streamlrs/streamlrs/pkg/xapi"
)

// HeaderSource names where the statements of a write were brought in from
// (`lrs import`: a file:// URL, `lrs pull`: the source LRS's xAPI URL). With
// it, each statement's own "stored", which xAPI makes this LRS replace, is
// kept as its original stored time next to the source.
const HeaderSource = "X-LRS-Source"

// maxSourceLength bounds the header: it is kept with every statement.
const maxSourceLength = 2048

// provenance is what a write says about where its statements came from.
type provenance struct {
	source string
	stored map[string]time.Time // by statement id
}

// readProvenance reads the X-LRS-Source header (source) and, when it is
// set, the "stored" each statement of body had before PrepareStatements
// replaced it; prepared is body's statements in order. A credential without
// the import scope that sends the header is refused, not ignored: an
// importer must learn that it is losing the provenance, and nothing else
// may claim a statement was imported.
func readProvenance(source string, p auth.Principal, body []byte, prepared []xapi.Prepared) (provenance, error) {
	if source == "" {
		return provenance{}, nil
	}
	if !p.Allows(auth.ScopeImport) {
		return provenance{}, NewError(http.StatusForbidden, "credential "+p.Key+" lacks scope "+auth.ScopeImport+", which "+HeaderSource+" needs")
	}
	if len(source) > maxSourceLength {
		return provenance{}, BadRequest(fmt.Sprintf("%s is %d bytes long; the limit is %d", HeaderSource, len(source), maxSourceLength))
	}
	for i := 0; i < len(source); i++ {
		if c := source[i]; c <= ' ' || c >= 0x7f {
			return provenance{}, BadRequest(HeaderSource + " must be a URL of printable ASCII characters without spaces (percent-encode the rest)")
		}
	}
	// PrepareStatements accepted body, so it scans; only the top-level
	// "stored" of each statement is read (encoding/json decoding the whole
	// body again was a tenth of an import's CPU). A stored it accepted that
	// time.Parse cannot read is simply not kept.
	var stored []string
	statement := func(obj jsonscan.Value) error {
		s := ""
		err := obj.Members(func(name []byte, val jsonscan.Value) error {
			if string(name) == "stored" {
				s, _ = val.Text()
			}
			return nil
		})
		stored = append(stored, s)
		return err
	}
	v, err := jsonscan.First(bytes.TrimLeft(body, " \t\r\n"))
	if err == nil {
		if v.IsArray() {
			err = v.Elements(statement)
		} else {
			err = statement(v)
		}
	}
	if err != nil || len(stored) != len(prepared) {
		return provenance{}, fmt.Errorf("provenance: the statements read differently the second time")
	}
	pv := provenance{source: source, stored: make(map[string]time.Time, len(prepared))}
	for i, s := range stored {
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			pv.stored[prepared[i].ID] = t.UTC()
		}
	}
	return pv, nil
}

// mark sets the provenance of st.
func (pv provenance) mark(st *stream.Statement) {
	st.Source = pv.source
	st.OriginalStored = pv.stored[st.ID]
}
