package xapiservice

import (
	"fmt"
	"net/http"
	"time"

	"github.com/streamlrs/streamlrs/pkg/auth"
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
// set, the "stored" each statement had before PrepareStatements replaced it
// (prepared with Assign.SentStored). A credential without the import scope
// that sends the header is refused, not ignored: an importer must learn
// that it is losing the provenance, and nothing else may claim a statement
// was imported.
func readProvenance(source string, p auth.Principal, prepared []xapi.Prepared) (provenance, error) {
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
	// A stored PrepareStatements accepted that time.Parse cannot read is
	// simply not kept.
	pv := provenance{source: source, stored: make(map[string]time.Time, len(prepared))}
	for _, st := range prepared {
		if t, err := time.Parse(time.RFC3339Nano, st.SentStored); err == nil {
			pv.stored[st.ID] = t.UTC()
		}
	}
	return pv, nil
}

// mark sets the provenance of st.
func (pv provenance) mark(st *stream.Statement) {
	st.Source = pv.source
	st.OriginalStored = pv.stored[st.ID]
}
