package forwarding

import (
	"encoding/json"
	"testing"
)

func TestFilterMatch(t *testing.T) {
	const stmt = `{"actor":{"objectType":"Group","member":[{"mbox":"mailto:Ana@example.com"}],"account":{"homePage":"https://lms","name":"team-1"}},
		"verb":{"id":"http://adlnet.gov/expapi/verbs/passed"},
		"object":{"id":"http://example.com/course","definition":{"type":"http://adlnet.gov/expapi/activities/course"}},
		"context":{"registration":"6fbd600f-d17c-4c74-801a-2ec2e53231ff"},
		"authority":{"account":{"homePage":"https://lrs","name":"moodle"}}}`
	var v statementView
	if err := json.Unmarshal([]byte(stmt), &v); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		filter Filter
		want   bool
	}{
		{"no condition", Filter{}, true},
		{"verb", Filter{Verb: "http://adlnet.gov/expapi/verbs/passed"}, true},
		{"other verb", Filter{Verb: "http://adlnet.gov/expapi/verbs/failed"}, false},
		{"activity", Filter{Activity: "http://example.com/course"}, true},
		{"other activity", Filter{Activity: "http://example.com/other"}, false},
		{"activity type", Filter{ActivityType: "http://adlnet.gov/expapi/activities/course"}, true},
		{"other activity type", Filter{ActivityType: "http://adlnet.gov/expapi/activities/lesson"}, false},
		{"a member of the actor, mbox case-insensitive", Filter{Actor: json.RawMessage(`{"mbox":"mailto:ana@EXAMPLE.com"}`)}, true},
		{"the group itself", Filter{Actor: json.RawMessage(`{"account":{"homePage":"https://lms","name":"team-1"}}`)}, true},
		{"another actor", Filter{Actor: json.RawMessage(`{"mbox":"mailto:bo@example.com"}`)}, false},
		{"authority", Filter{Authority: json.RawMessage(`{"account":{"homePage":"https://lrs","name":"moodle"}}`)}, true},
		{"another authority", Filter{Authority: json.RawMessage(`{"account":{"homePage":"https://lrs","name":"canvas"}}`)}, false},
		{"registration, any case", Filter{Registration: "6FBD600F-D17C-4C74-801A-2EC2E53231FF"}, true},
		{"other registration", Filter{Registration: "00000000-d17c-4c74-801a-2ec2e53231ff"}, false},
		{"all of them", Filter{Verb: "http://adlnet.gov/expapi/verbs/passed", Activity: "http://example.com/course", Registration: "6fbd600f-d17c-4c74-801a-2ec2e53231ff"}, true},
		{"all but one", Filter{Verb: "http://adlnet.gov/expapi/verbs/passed", Activity: "http://example.com/other"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.filter.validate(); err != nil {
				t.Fatalf("validate: %v", err)
			}
			if got := newMatcher(tc.filter).match(v); got != tc.want {
				t.Fatalf("match = %v, want %v", got, tc.want)
			}
		})
	}
	var ref statementView
	_ = json.Unmarshal([]byte(`{"verb":{"id":"http://adlnet.gov/expapi/verbs/passed"},"object":{"objectType":"StatementRef","id":"X"}}`), &ref)
	if newMatcher(Filter{Activity: "X"}).match(ref) || newMatcher(Filter{ActivityType: "X"}).match(ref) {
		t.Fatal("an activity filter matched a StatementRef object")
	}
}
