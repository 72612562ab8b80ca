package importer

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"
)

// state is what an import has finished, per file, kept in a small JSON
// file so that an interrupted import resumes instead of starting over
// (resending is harmless, the ids are kept, but costs the time again).
type state struct {
	path string

	mu    sync.Mutex
	Files map[string]*fileState `json:"files"`
	Pulls map[string]*pullState `json:"pulls,omitempty"`
	dirty bool
}

// pullState is how far a pull from one source got: every statement the
// source stored up to Since was delivered.
type pullState struct {
	st    *state
	Since time.Time `json:"since"`
}

func (s *state) pull(source string) *pullState {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Pulls == nil {
		s.Pulls = map[string]*pullState{}
	}
	p, ok := s.Pulls[source]
	if !ok {
		p = &pullState{}
		s.Pulls[source] = p
	}
	p.st = s
	return p
}

func (p *pullState) since() time.Time {
	p.st.mu.Lock()
	defer p.st.mu.Unlock()
	return p.Since
}

// advance records that everything stored up to t was delivered.
func (p *pullState) advance(t time.Time) {
	p.st.mu.Lock()
	defer p.st.mu.Unlock()
	if t.After(p.Since) {
		p.Since = t
		p.st.dirty = true
	}
}

// fileState is one file's progress. Batches finish out of order; Done is
// the position below which every statement was answered.
type fileState struct {
	st   *state
	Size int64 `json:"size"`
	Done int64 `json:"done"` // statements from the start of the file that need no sending again

	pending []pending
	nextSeq int
}

type pending struct {
	seq  int
	end  int64
	done bool
}

func loadState(path string) (*state, error) {
	s := &state{path: path, Files: map[string]*fileState{}}
	if path == "" {
		return s, nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("import state: %w", err)
	}
	if err := json.Unmarshal(b, s); err != nil {
		return nil, fmt.Errorf("import state %s: %w (remove it to start over)", path, err)
	}
	for _, f := range s.Files {
		f.st = s
	}
	return s, nil
}

// file returns the progress of the file at abs, refusing to resume a file
// whose size changed since (its positions would not mean the same).
func (s *state) file(abs string, size int64) (*fileState, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.Files[abs]
	if !ok {
		f = &fileState{st: s, Size: size}
		s.Files[abs] = f
		return f, nil
	}
	if f.Size != size {
		return nil, fmt.Errorf("import %s: the file is %d bytes, %d when the state in %s was written: remove the state file to import it from the start", abs, size, f.Size, s.path)
	}
	return f, nil
}

func (f *fileState) resumeAt() int64 {
	f.st.mu.Lock()
	defer f.st.mu.Unlock()
	return f.Done
}

// dispatched registers a batch that ends at position end.
func (f *fileState) dispatched(end int64) int {
	f.st.mu.Lock()
	defer f.st.mu.Unlock()
	seq := f.nextSeq
	f.nextSeq++
	f.pending = append(f.pending, pending{seq: seq, end: end})
	return seq
}

// done marks batch seq answered and moves Done past every batch answered
// without a gap.
func (f *fileState) done(seq int) {
	f.st.mu.Lock()
	defer f.st.mu.Unlock()
	for i := range f.pending {
		if f.pending[i].seq == seq {
			f.pending[i].done = true
			break
		}
	}
	for len(f.pending) > 0 && f.pending[0].done {
		f.Done = f.pending[0].end
		f.pending = f.pending[1:]
		f.st.dirty = true
	}
}

// save writes the state if it changed, through a temporary file so that a
// crash leaves the old state or the new one.
func (s *state) save() error {
	s.mu.Lock()
	if s.path == "" || !s.dirty {
		s.mu.Unlock()
		return nil
	}
	b, err := json.MarshalIndent(s, "", "  ")
	s.dirty = false
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("import state: %w", err)
	}
	tmp := s.path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("import state: %w", err)
	}
	if err := os.Rename(tmp, s.path); err != nil {
		return fmt.Errorf("import state: %w", err)
	}
	return nil
}
