package forwarding

import (
	"encoding/json"
	"strings"
)

// agent is the part of an Agent or Group a filter compares.
type agent struct {
	Mbox     string `json:"mbox"`
	MboxSHA1 string `json:"mbox_sha1sum"`
	OpenID   string `json:"openid"`
	Account  *struct {
		HomePage string `json:"homePage"`
		Name     string `json:"name"`
	} `json:"account"`
	Member []agent `json:"member"`
}

// ifi is the agent's inverse functional identifier as one string ("" for
// an anonymous Group).
func (a agent) ifi() string {
	switch {
	case a.Mbox != "":
		return "mbox:" + strings.ToLower(a.Mbox)
	case a.MboxSHA1 != "":
		return "sha1:" + strings.ToLower(a.MboxSHA1)
	case a.OpenID != "":
		return "openid:" + a.OpenID
	case a.Account != nil:
		return "account:" + a.Account.HomePage + "\x00" + a.Account.Name
	}
	return ""
}

// is reports whether a, or one of its members, is identified by ifi.
func (a agent) is(ifi string) bool {
	if a.ifi() == ifi {
		return true
	}
	for _, m := range a.Member {
		if m.ifi() == ifi {
			return true
		}
	}
	return false
}

// statementView is what a filter reads of a statement.
type statementView struct {
	Actor agent `json:"actor"`
	Verb  struct {
		ID string `json:"id"`
	} `json:"verb"`
	Object struct {
		ObjectType string `json:"objectType"`
		ID         string `json:"id"`
		Definition struct {
			Type string `json:"type"`
		} `json:"definition"`
	} `json:"object"`
	Context struct {
		Registration string `json:"registration"`
	} `json:"context"`
	Authority agent `json:"authority"`
}

const verbVoided = "http://adlnet.gov/expapi/verbs/voided"

// voids returns the id of the statement v voids, or "".
func (v statementView) voids() string {
	if v.Verb.ID == verbVoided && v.Object.ObjectType == "StatementRef" {
		return strings.ToLower(v.Object.ID)
	}
	return ""
}

// matcher is a Filter made ready to test statements.
type matcher struct {
	f                Filter
	actor, authority string
}

func newMatcher(f Filter) matcher {
	m := matcher{f: f}
	for _, p := range []struct {
		raw json.RawMessage
		dst *string
	}{{f.Actor, &m.actor}, {f.Authority, &m.authority}} {
		var a agent
		if len(p.raw) > 0 && json.Unmarshal(p.raw, &a) == nil {
			*p.dst = a.ifi()
		}
	}
	return m
}

// match reports whether the filter selects v.
func (m matcher) match(v statementView) bool {
	f := m.f
	isActivity := v.Object.ObjectType == "" || v.Object.ObjectType == "Activity"
	switch {
	case f.Verb != "" && v.Verb.ID != f.Verb,
		f.Activity != "" && (!isActivity || v.Object.ID != f.Activity),
		f.ActivityType != "" && (!isActivity || v.Object.Definition.Type != f.ActivityType),
		f.Registration != "" && !strings.EqualFold(v.Context.Registration, f.Registration),
		m.actor != "" && !v.Actor.is(m.actor),
		m.authority != "" && !v.Authority.is(m.authority):
		return false
	}
	return true
}
