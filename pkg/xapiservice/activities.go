package xapiservice

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/streamlrs/streamlrs/pkg/auth"
	"github.com/streamlrs/streamlrs/pkg/store"
)

// Activity is the canonical Activity of GET /activities.
type Activity struct {
	ObjectType string          `json:"objectType"`
	ID         string          `json:"id"`
	Definition json.RawMessage `json:"definition,omitempty"`
	// Updated is when a statement last changed the definition (zero
	// when none defined it).
	Updated time.Time `json:"-"`
}

// Activity answers GET /activities?activityId= with the canonical
// Activity: its definition as merged from the tenant's statements (the
// store-writer merges them; see store's activities.go), or just its id
// when no statement defined it, as xAPI 2.0 asks. Definitions arrive with
// statements through the topic: catchUp, called once the request is known
// good, waits like a statement GET until the store has applied what was
// acknowledged.
func (d *Documents) Activity(ctx context.Context, p auth.Principal, ps Params, catchUp func(context.Context)) (Activity, error) {
	if err := RequireScope(p, auth.ScopeAllRead, auth.ScopeStatementsRead, auth.ScopeProfile); err != nil {
		return Activity{}, err
	}
	if err := ps.Only("activityId"); err != nil {
		return Activity{}, err
	}
	if err := ps.Once(); err != nil {
		return Activity{}, err
	}
	id, err := activityParam(ps)
	if err != nil {
		return Activity{}, err
	}
	catchUp(ctx)
	act := Activity{ObjectType: "Activity", ID: id}
	a, err := d.store.GetActivity(ctx, p.Tenant, id)
	switch {
	case err == nil:
		act.Definition = a.Definition
		act.Updated = a.Updated
	case !errors.Is(err, store.ErrNotFound):
		return Activity{}, err
	}
	return act, nil
}
