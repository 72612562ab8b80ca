package store

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/streamlrs/streamlrs/pkg/jsonscan"
)

// VerbVoided is the verb of a voiding statement.
const VerbVoided = "http://adlnet.gov/expapi/verbs/voided"

// Index keys are strings with a one-letter kind prefix so that one table
// serves every filter. A key is "direct" when it matches the plain filter
// (actor/object agent, object activity, verb, registration); the related_*
// variants match every key of the kind, direct or not.
const (
	prefixAgent        = "g:"
	prefixActivity     = "c:"
	prefixVerb         = "v:"
	prefixRegistration = "r:"
	// prefixAuthority keys the statement's authority on its own, apart from
	// the agent keys, so that statements/read/mine can select by it.
	prefixAuthority = "a:"
)

// indexKey is one filterable value of a statement.
type indexKey struct {
	Key    string
	Direct bool
}

// extracted is what the store indexes from a statement.
type extracted struct {
	Keys    []indexKey
	Ref     string // id of the statement the object refers to (StatementRef), "" if none
	Voiding bool   // a voiding statement: Ref is the statement it voids
}

type xActor struct {
	ObjectType, Mbox, MboxSHA1Sum, OpenID string
	Account                               *xAccount
	Member                                []xActor
}

type xAccount struct {
	HomePage, Name string
}

// xObject is an Activity, Agent, Group, StatementRef or SubStatement.
type xObject struct {
	xActor
	ID      string
	Actor   *xActor
	Verb    string
	Object  *xObject
	Context *xContext
}

type xContext struct {
	Registration      string
	Instructor, Team  *xActor
	ContextAgents     []*xActor // contextAgents[].agent and contextGroups[].group
	ContextActivities []string  // ids of parent, grouping, category, other
}

type xStatement struct {
	Actor, Authority *xActor
	Verb             string
	Object           *xObject
	Context          *xContext
}

// actorMember decodes one member of an Agent or Group; ok=false if key is
// not one of theirs.
func (a *xActor) actorMember(key []byte, val jsonscan.Value) (ok bool, err error) {
	switch string(key) {
	case "objectType":
		a.ObjectType = str(val)
	case "mbox":
		a.Mbox = str(val)
	case "mbox_sha1sum":
		a.MboxSHA1Sum = str(val)
	case "openid":
		a.OpenID = str(val)
	case "account":
		if val.IsObject() {
			a.Account = &xAccount{}
			err = val.Members(func(k []byte, v jsonscan.Value) error {
				switch string(k) {
				case "homePage":
					a.Account.HomePage = str(v)
				case "name":
					a.Account.Name = str(v)
				}
				return nil
			})
		}
	case "member":
		if val.IsArray() {
			err = val.Elements(func(v jsonscan.Value) error {
				m, err := decodeActor(v)
				if m != nil {
					a.Member = append(a.Member, *m)
				}
				return err
			})
		}
	default:
		return false, nil
	}
	return true, err
}

// decodeActorJSON decodes an Agent or Group given as JSON (a query
// parameter, a credential's authority); nil if it is not an object.
func decodeActorJSON(raw []byte) (*xActor, error) {
	v, err := jsonscan.First(raw)
	if err != nil {
		return nil, err
	}
	return decodeActor(v)
}

// decodeActor decodes an Agent or Group; nil if val is not an object.
func decodeActor(val jsonscan.Value) (*xActor, error) {
	if !val.IsObject() {
		return nil, nil
	}
	a := &xActor{}
	err := val.Members(func(k []byte, v jsonscan.Value) error {
		_, err := a.actorMember(k, v)
		return err
	})
	return a, err
}

// decodeVerbID returns the id of a Verb.
func decodeVerbID(val jsonscan.Value) (id string, err error) {
	if !val.IsObject() {
		return "", nil
	}
	err = val.Members(func(k []byte, v jsonscan.Value) error {
		if string(k) == "id" {
			id = str(v)
		}
		return nil
	})
	return id, err
}

// decodeObject decodes a statement's object; depth stops a SubStatement
// nested in a SubStatement (which validation forbids) from recursing.
func decodeObject(val jsonscan.Value, depth int) (*xObject, error) {
	if !val.IsObject() || depth > 1 {
		return nil, nil
	}
	o := &xObject{}
	err := val.Members(func(k []byte, v jsonscan.Value) (err error) {
		if ok, err := o.actorMember(k, v); ok {
			return err
		}
		switch string(k) {
		case "id":
			o.ID = str(v)
		case "actor":
			o.Actor, err = decodeActor(v)
		case "verb":
			o.Verb, err = decodeVerbID(v)
		case "object":
			o.Object, err = decodeObject(v, depth+1)
		case "context":
			o.Context, err = decodeContext(v)
		}
		return err
	})
	return o, err
}

func decodeContext(val jsonscan.Value) (*xContext, error) {
	if !val.IsObject() {
		return nil, nil
	}
	c := &xContext{}
	err := val.Members(func(k []byte, v jsonscan.Value) (err error) {
		switch string(k) {
		case "registration":
			c.Registration = str(v)
		case "instructor":
			c.Instructor, err = decodeActor(v)
		case "team":
			c.Team, err = decodeActor(v)
		case "contextAgents", "contextGroups":
			inner := "agent"
			if string(k) == "contextGroups" {
				inner = "group"
			}
			if v.IsArray() {
				err = v.Elements(func(e jsonscan.Value) error {
					if !e.IsObject() {
						return nil
					}
					return e.Members(func(k []byte, v jsonscan.Value) error {
						if string(k) != inner {
							return nil
						}
						a, err := decodeActor(v)
						if a != nil {
							c.ContextAgents = append(c.ContextAgents, a)
						}
						return err
					})
				})
			}
		case "contextActivities":
			if v.IsObject() {
				err = v.Members(func(_ []byte, list jsonscan.Value) error {
					return c.addActivities(list)
				})
			}
		}
		return err
	})
	return c, err
}

// addActivities adds a context activity list: an array or, as xAPI 1.0.x
// allowed, a single object.
func (c *xContext) addActivities(list jsonscan.Value) error {
	one := func(v jsonscan.Value) error {
		id, err := decodeVerbID(v) // an Activity's id, read the same way
		if id != "" {
			c.ContextActivities = append(c.ContextActivities, id)
		}
		return err
	}
	if list.IsArray() {
		return list.Elements(one)
	}
	return one(list)
}

func decodeStatement(raw []byte) (xStatement, error) {
	var s xStatement
	err := jsonscan.Members(raw, func(k []byte, v jsonscan.Value) (err error) {
		switch string(k) {
		case "actor":
			s.Actor, err = decodeActor(v)
		case "authority":
			s.Authority, err = decodeActor(v)
		case "verb":
			s.Verb, err = decodeVerbID(v)
		case "object":
			s.Object, err = decodeObject(v, 0)
		case "context":
			s.Context, err = decodeContext(v)
		}
		return err
	})
	return s, err
}

// extract parses a prepared statement for what the store indexes.
func extract(raw []byte) (extracted, error) {
	s, err := decodeStatement(raw)
	if err != nil {
		return extracted{}, fmt.Errorf("parse statement: %w", err)
	}
	return s.extract(true), nil
}

// mentionsAgent reports whether the statement names the agent of agent key
// key anywhere but in its authority (the credential that sent it): the
// statements an erasure of that agent removes.
func mentionsAgent(raw []byte, key string) (bool, error) {
	s, err := decodeStatement(raw)
	if err != nil {
		return false, fmt.Errorf("parse statement: %w", err)
	}
	return slices.ContainsFunc(s.extract(false).Keys, func(k indexKey) bool { return k.Key == key }), nil
}

// extract collects the keys of s, those of its authority only if
// authority is set.
func (s xStatement) extract(authority bool) extracted {
	var c keyCollector
	if s.Verb != "" {
		c.add(prefixVerb+s.Verb, true)
	}
	c.agent(s.Actor, true)
	if authority {
		c.agent(s.Authority, false)
		if id := authorityID(s.Authority); id != "" {
			c.add(prefixAuthority+id, true)
		}
	}
	c.context(s.Context, true)

	var out extracted
	if o := s.Object; o != nil {
		switch o.ObjectType {
		case "Agent", "Group":
			c.agent(&o.xActor, true)
		case "StatementRef":
			// Ingest validated the id; one that is not a UUID refers to nothing.
			if u, err := uuid.Parse(o.ID); err == nil {
				out.Ref = u.String()
				out.Voiding = s.Verb == VerbVoided
			}
		case "SubStatement":
			// A SubStatement's parts count only for the related_* filters.
			c.agent(o.Actor, false)
			if so := o.Object; so != nil {
				switch so.ObjectType {
				case "Agent", "Group":
					c.agent(&so.xActor, false)
				case "", "Activity":
					c.activity(so.ID, false)
				}
			}
			c.context(o.Context, false)
		default: // an Activity, whose objectType is optional
			c.activity(o.ID, true)
		}
	}
	out.Keys = c.keys
	return out
}

// keyCollector gathers keys once each, a key being direct if any of its
// occurrences is.
type keyCollector struct {
	keys []indexKey
}

func (c *keyCollector) add(key string, direct bool) {
	for i := range c.keys {
		if c.keys[i].Key == key {
			c.keys[i].Direct = c.keys[i].Direct || direct
			return
		}
	}
	c.keys = append(c.keys, indexKey{Key: key, Direct: direct})
}

func (c *keyCollector) activity(id string, direct bool) {
	if id != "" {
		c.add(prefixActivity+id, direct)
	}
}

// agent adds an Agent or Group and, because a Group matches the agent
// filter through its members, each member.
func (c *keyCollector) agent(a *xActor, direct bool) {
	if a == nil {
		return
	}
	if ifi := a.ifi(); ifi != "" {
		c.add(prefixAgent+ifi, direct)
	}
	for i := range a.Member {
		if ifi := a.Member[i].ifi(); ifi != "" {
			c.add(prefixAgent+ifi, direct)
		}
	}
}

// context adds a context's registration (direct only at the top level: a
// SubStatement's registration is not the statement's) and its related
// agents and activities.
func (c *keyCollector) context(ctx *xContext, top bool) {
	if ctx == nil {
		return
	}
	if top && ctx.Registration != "" {
		c.add(prefixRegistration+strings.ToLower(ctx.Registration), true)
	}
	c.agent(ctx.Instructor, false)
	c.agent(ctx.Team, false)
	for _, a := range ctx.ContextAgents {
		c.agent(a, false)
	}
	for _, id := range ctx.ContextActivities {
		c.activity(id, false)
	}
}

// ifi renders an inverse functional identifier as one comparable string,
// "" when there is none (an anonymous Group).
func (a *xActor) ifi() string {
	switch {
	case a.Mbox != "":
		return "mbox:" + a.Mbox
	case a.MboxSHA1Sum != "":
		return "sha1:" + a.MboxSHA1Sum
	case a.OpenID != "":
		return "openid:" + a.OpenID
	case a.Account != nil && (a.Account.HomePage != "" || a.Account.Name != ""):
		// A homePage is an IRL and cannot hold a newline, so the pair is unambiguous.
		return "account:" + a.Account.HomePage + "\n" + a.Account.Name
	}
	return ""
}

// authorityID identifies an authority: an Agent (or identified Group) by its
// IFI, an anonymous Group (the OAuth consumer and user pair) by its members'
// IFIs whatever their order; "" when it cannot be identified.
func authorityID(a *xActor) string {
	if a == nil {
		return ""
	}
	if ifi := a.ifi(); ifi != "" {
		return ifi
	}
	if len(a.Member) == 0 {
		return ""
	}
	ids := make([]string, len(a.Member))
	for i := range a.Member {
		if ids[i] = a.Member[i].ifi(); ids[i] == "" {
			return ""
		}
	}
	slices.Sort(ids)
	return "group:" + strings.Join(ids, "\x00")
}

// authorityKey turns an authority Agent/Group (JSON) into its index key.
func authorityKey(authority []byte) (string, error) {
	a, err := decodeActorJSON(authority)
	if err == nil && a == nil {
		err = errors.New("not an object")
	}
	if err != nil {
		return "", fmt.Errorf("%w: authority is not an Agent or Group object: %v", ErrInvalidQuery, err)
	}
	id := authorityID(a)
	if id == "" {
		return "", fmt.Errorf("%w: authority has no inverse functional identifier", ErrInvalidQuery)
	}
	return prefixAuthority + id, nil
}

// HasAuthority reports whether the statement (JSON) carries authority, by
// identity (inverse functional identifiers), not byte for byte: what
// statements/read/mine grants for a single statement.
func HasAuthority(statement, authority []byte) bool {
	want, err := authorityKey(authority)
	return err == nil && hasAuthorityKey(statement, want)
}

// hasAuthorityKey reports whether the statement's own authority has the
// index key want.
func hasAuthorityKey(statement []byte, want string) bool {
	s, err := decodeStatement(statement)
	if err != nil {
		return false
	}
	id := authorityID(s.Authority)
	return id != "" && prefixAuthority+id == want
}

// inheritable drops the authority key from keys passed along a StatementRef:
// a statement that refers to another matches the other's filters (xAPI
// "Filter Conditions for StatementRefs"), but it is not the other's
// authority's statement, and statements/read/mine selects by that key.
func inheritable(keys []indexKey) []indexKey {
	return slices.DeleteFunc(slices.Clone(keys), func(k indexKey) bool { return strings.HasPrefix(k.Key, prefixAuthority) })
}

// agentKey turns the `agent` query parameter into its index key.
func agentKey(agentJSON string) (string, error) {
	a, err := decodeActorJSON([]byte(agentJSON))
	if err == nil && a == nil {
		err = errors.New("not an object")
	}
	if err != nil {
		return "", fmt.Errorf("%w: agent is not an Agent or Group object: %v", ErrInvalidQuery, err)
	}
	ifi := a.ifi()
	if ifi == "" {
		return "", fmt.Errorf("%w: agent has no inverse functional identifier", ErrInvalidQuery)
	}
	return prefixAgent + ifi, nil
}

// str is the text of a string value; anything else is "" (a null, or a
// value of a type the store does not index).
func str(v jsonscan.Value) string {
	s, _ := v.Text()
	return s
}
