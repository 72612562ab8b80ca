package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
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
	ObjectType  string    `json:"objectType"`
	Mbox        string    `json:"mbox"`
	MboxSHA1Sum string    `json:"mbox_sha1sum"`
	OpenID      string    `json:"openid"`
	Account     *xAccount `json:"account"`
	Member      []xActor  `json:"member"`
}

type xAccount struct {
	HomePage string `json:"homePage"`
	Name     string `json:"name"`
}

// xObject is an Activity, Agent, Group, StatementRef or SubStatement.
type xObject struct {
	xActor
	ID      string    `json:"id"`
	Actor   *xActor   `json:"actor"`
	Verb    *xVerb    `json:"verb"`
	Object  *xObject  `json:"object"`
	Context *xContext `json:"context"`
}

type xVerb struct {
	ID string `json:"id"`
}

type xContext struct {
	Registration      string       `json:"registration"`
	Instructor        *xActor      `json:"instructor"`
	Team              *xActor      `json:"team"`
	ContextActivities *xActivities `json:"contextActivities"`
	ContextAgents     []struct {
		Agent *xActor `json:"agent"`
	} `json:"contextAgents"`
	ContextGroups []struct {
		Group *xActor `json:"group"`
	} `json:"contextGroups"`
}

type xActivities struct {
	Parent   activityList `json:"parent"`
	Grouping activityList `json:"grouping"`
	Category activityList `json:"category"`
	Other    activityList `json:"other"`
}

// activityList accepts an array or, as xAPI 1.0.x allowed, a single object.
type activityList []struct {
	ID string `json:"id"`
}

func (l *activityList) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '{' {
		var one struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(b, &one); err != nil {
			return err
		}
		*l = activityList{one}
		return nil
	}
	var many []struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*l = many
	return nil
}

type xStatement struct {
	Actor     *xActor   `json:"actor"`
	Verb      xVerb     `json:"verb"`
	Object    *xObject  `json:"object"`
	Context   *xContext `json:"context"`
	Authority *xActor   `json:"authority"`
}

// extract parses a prepared statement for what the store indexes.
func extract(raw []byte) (extracted, error) {
	var s xStatement
	if err := json.Unmarshal(raw, &s); err != nil {
		return extracted{}, fmt.Errorf("parse statement: %w", err)
	}
	var c keyCollector
	if s.Verb.ID != "" {
		c.add(prefixVerb+s.Verb.ID, true)
	}
	c.agent(s.Actor, true)
	c.agent(s.Authority, false)
	c.context(s.Context, true)

	var out extracted
	if o := s.Object; o != nil {
		switch o.ObjectType {
		case "Agent", "Group":
			c.agent(&o.xActor, true)
		case "StatementRef":
			out.Ref = strings.ToLower(o.ID)
			out.Voiding = s.Verb.ID == VerbVoided
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
	return out, nil
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
	for _, ca := range ctx.ContextAgents {
		c.agent(ca.Agent, false)
	}
	for _, cg := range ctx.ContextGroups {
		c.agent(cg.Group, false)
	}
	if ca := ctx.ContextActivities; ca != nil {
		for _, list := range []activityList{ca.Parent, ca.Grouping, ca.Category, ca.Other} {
			for _, a := range list {
				c.activity(a.ID, false)
			}
		}
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

// agentKey turns the `agent` query parameter into its index key.
func agentKey(agentJSON string) (string, error) {
	var a xActor
	if err := json.Unmarshal([]byte(agentJSON), &a); err != nil {
		return "", fmt.Errorf("%w: agent is not an Agent or Group object: %v", ErrInvalidQuery, err)
	}
	ifi := a.ifi()
	if ifi == "" {
		return "", fmt.Errorf("%w: agent has no inverse functional identifier", ErrInvalidQuery)
	}
	return prefixAgent + ifi, nil
}
