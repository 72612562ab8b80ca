package xapi

import (
	"encoding/json"
	"os"
	"testing"
	"time"
)

func benchAssign() Assign {
	return Assign{
		Stored:    time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC),
		Authority: json.RawMessage(`{"objectType":"Agent","account":{"homePage":"https://lrs.example.com","name":"lms-eu-1"}}`),
		NewID:     func() string { return "6e1a2e6d-0b1b-4c8f-9d8e-1234567890ab" },
	}
}

// BenchmarkPrepare measures decode + full validation + stored form +
// canonical fingerprint of one statement, the ingest hot path.
func BenchmarkPrepare(b *testing.B) {
	for _, name := range []string{"small", "typical", "large"} {
		body, err := os.ReadFile("testdata/bench-" + name + ".json")
		if err != nil {
			b.Fatal(err)
		}
		for _, v := range []Version{V1_0_3, V2_0_0} {
			b.Run(name+"/"+string(v), func(b *testing.B) {
				a := benchAssign()
				if _, err := PrepareStatements(body, v, a); err != nil {
					b.Fatal(err)
				}
				b.SetBytes(int64(len(body)))
				b.ReportAllocs()
				for b.Loop() {
					if _, err := PrepareStatements(body, v, a); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
