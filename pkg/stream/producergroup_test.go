package stream

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
)

// The producer group's one promise, on both brokers: once a second member
// may publish, the first no longer says it is the only producer; once the
// second left, the first says so again, in a new lease.
func TestProducerGroupSoleOnlyWhileAlone(t *testing.T) {
	for _, bk := range brokerKinds {
		t.Run(bk.name, func(t *testing.T) {
			k := bk.start(t)
			tc := testTopic(t, k)
			join := func() *ProducerGroup {
				t.Helper()
				g, err := JoinProducerGroup(tc.Name, func(opts ...kgo.Opt) (*kgo.Client, error) {
					return NewClient(k.brokers, zap.NewNop(), append(opts, k.opts...)...)
				}, nil, zap.NewNop())
				if err != nil {
					t.Fatal(err)
				}
				return g
			}
			admitted := func(g *ProducerGroup, what string) {
				t.Helper()
				deadline := time.Now().Add(60 * time.Second)
				for g.Admit() != nil {
					if time.Now().After(deadline) {
						t.Fatalf("%s: not admitted after 60 s", what)
					}
					time.Sleep(10 * time.Millisecond)
				}
			}

			a := join()
			defer a.Close()
			if err := a.Admit(); err == nil {
				t.Fatal("admitted before joining")
			}
			admitted(a, "first member")
			first, sole := a.Sole()
			if !sole {
				t.Fatal("the only member is not sole")
			}

			b := join()
			admitted(b, "second member")
			// The moment b may publish, a must already know.
			if _, sole := a.Sole(); sole {
				t.Fatal("the first member still says it is the only producer while the second may publish")
			}
			if _, sole := b.Sole(); sole {
				t.Fatal("the second member says it is the only producer")
			}

			b.Close()
			if b.Admit() == nil {
				t.Fatal("a member that left still admits publishes")
			}
			deadline := time.Now().Add(60 * time.Second)
			for {
				epoch, sole := a.Sole()
				if sole {
					if epoch == first {
						t.Fatalf("the new lease has the old epoch %d", epoch)
					}
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("the first member is not sole again 60 s after the second left")
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
}
