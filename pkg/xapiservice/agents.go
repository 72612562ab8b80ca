package xapiservice

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/streamlrs/streamlrs/pkg/auth"
)

// agentAccount is an Agent's account IFI.
type agentAccount struct {
	HomePage string `json:"homePage"`
	Name     string `json:"name"`
}

// agentIdentity is an Agent (or identified Group) sent as a query
// parameter, checked to carry exactly one inverse functional identifier.
type agentIdentity struct {
	objectType                string
	name                      string
	mbox, mboxSHA1Sum, openid string
	account                   *agentAccount
	ifi                       string // the IFI as one comparable string (see store's agent keys)
}

// agentMembers are the properties an Agent or Group parameter may have.
var agentMembers = map[string]bool{
	"objectType": true, "name": true, "mbox": true, "mbox_sha1sum": true, "openid": true, "account": true, "member": true,
}

// agentParse decodes and checks the agent parameter of the document
// resources and /agents.
func agentParse(raw []byte) (agentIdentity, error) {
	var m map[string]json.RawMessage
	if b := bytes.TrimSpace(raw); len(b) == 0 || b[0] != '{' || json.Unmarshal(b, &m) != nil {
		return agentIdentity{}, fmt.Errorf("%q is not a JSON object", raw)
	}
	var a agentIdentity
	str := func(key string, dst *string) error {
		v, ok := m[key]
		if !ok {
			return nil
		}
		if err := json.Unmarshal(v, dst); err != nil {
			return fmt.Errorf("%s must be a string", key)
		}
		return nil
	}
	for k := range m {
		if !agentMembers[k] {
			return agentIdentity{}, fmt.Errorf("unknown property %q", k)
		}
	}
	for key, dst := range map[string]*string{"objectType": &a.objectType, "name": &a.name, "mbox": &a.mbox,
		"mbox_sha1sum": &a.mboxSHA1Sum, "openid": &a.openid} {
		if err := str(key, dst); err != nil {
			return agentIdentity{}, err
		}
	}
	switch a.objectType {
	case "", "Agent":
		if _, ok := m["member"]; ok {
			return agentIdentity{}, fmt.Errorf("an Agent has no member property")
		}
	case "Group":
		if v, ok := m["member"]; ok && !bytes.HasPrefix(bytes.TrimSpace(v), []byte("[")) {
			return agentIdentity{}, fmt.Errorf("member must be an array")
		}
	default:
		return agentIdentity{}, fmt.Errorf("objectType %q: want Agent or Group", a.objectType)
	}
	var ifis []string
	for _, k := range []string{"mbox", "mbox_sha1sum", "openid", "account"} {
		if _, ok := m[k]; ok {
			ifis = append(ifis, k)
		}
	}
	if len(ifis) != 1 {
		return agentIdentity{}, fmt.Errorf("has %d inverse functional identifiers (%s); want exactly one of mbox, mbox_sha1sum, openid, account",
			len(ifis), strings.Join(ifis, ", "))
	}
	switch ifis[0] {
	case "mbox":
		at := strings.LastIndexByte(a.mbox, '@')
		if !strings.HasPrefix(a.mbox, "mailto:") || at <= len("mailto:") || at == len(a.mbox)-1 || strings.ContainsAny(a.mbox, " \t\r\n") {
			return agentIdentity{}, fmt.Errorf("mbox %q: want mailto:address", a.mbox)
		}
		a.ifi = "mbox:" + a.mbox
	case "mbox_sha1sum":
		if len(a.mboxSHA1Sum) != 40 || strings.Trim(strings.ToLower(a.mboxSHA1Sum), "0123456789abcdef") != "" {
			return agentIdentity{}, fmt.Errorf("mbox_sha1sum %q: want 40 hexadecimal digits", a.mboxSHA1Sum)
		}
		a.ifi = "sha1:" + strings.ToLower(a.mboxSHA1Sum)
	case "openid":
		if !docValidIRI(a.openid) {
			return agentIdentity{}, fmt.Errorf("openid %q is not a URI", a.openid)
		}
		a.ifi = "openid:" + a.openid
	case "account":
		var acc map[string]json.RawMessage
		if err := json.Unmarshal(m["account"], &acc); err != nil || acc == nil {
			return agentIdentity{}, fmt.Errorf("account must be an object with homePage and name")
		}
		a.account = &agentAccount{}
		for k, v := range acc {
			var err error
			switch k {
			case "homePage":
				err = json.Unmarshal(v, &a.account.HomePage)
			case "name":
				err = json.Unmarshal(v, &a.account.Name)
			default:
				return agentIdentity{}, fmt.Errorf("account: unknown property %q", k)
			}
			if err != nil {
				return agentIdentity{}, fmt.Errorf("account.%s must be a string", k)
			}
		}
		if !docValidIRI(a.account.HomePage) || a.account.Name == "" {
			return agentIdentity{}, fmt.Errorf("account needs a homePage IRL and a non-empty name")
		}
		// A homePage is an IRL and cannot hold a newline: the pair is unambiguous.
		a.ifi = "account:" + a.account.HomePage + "\n" + a.account.Name
	}
	return a, nil
}

// AgentPerson is the Person object of GET /agents.
type AgentPerson struct {
	ObjectType  string         `json:"objectType"`
	Name        []string       `json:"name,omitempty"`
	Mbox        []string       `json:"mbox,omitempty"`
	MboxSHA1Sum []string       `json:"mbox_sha1sum,omitempty"`
	OpenID      []string       `json:"openid,omitempty"`
	Account     []agentAccount `json:"account,omitempty"`
}

// Person answers GET /agents?agent= with the Person the LRS knows for
// the agent. This LRS links no identities (personas), so the Person holds
// the agent's one identifier and the name it was sent with.
func Person(p auth.Principal, ps Params) (AgentPerson, error) {
	if err := RequireScope(p, auth.ScopeAllRead, auth.ScopeStatementsRead, auth.ScopeProfile); err != nil {
		return AgentPerson{}, err
	}
	if err := ps.Only("agent"); err != nil {
		return AgentPerson{}, err
	}
	if err := ps.Once(); err != nil {
		return AgentPerson{}, err
	}
	a, err := agentParam(ps)
	if err != nil {
		return AgentPerson{}, err
	}
	if a.objectType == "Group" {
		return AgentPerson{}, BadRequest("agent parameter: /agents describes an Agent, not a Group")
	}
	person := AgentPerson{ObjectType: "Person"}
	if a.name != "" {
		person.Name = []string{a.name}
	}
	switch {
	case a.mbox != "":
		person.Mbox = []string{a.mbox}
	case a.mboxSHA1Sum != "":
		person.MboxSHA1Sum = []string{a.mboxSHA1Sum}
	case a.openid != "":
		person.OpenID = []string{a.openid}
	case a.account != nil:
		person.Account = []agentAccount{*a.account}
	}
	return person, nil
}
