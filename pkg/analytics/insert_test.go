package analytics

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	chschema "github.com/streamlrs/streamlrs/schemas/clickhouse"
)

func TestSplitByPartitions(t *testing.T) {
	tests := []struct {
		name     string
		months   []int
		maxParts int
		chunks   int
	}{
		{"empty", nil, 50, 0},
		{"one month", []int{202401, 202401, 202401}, 50, 1},
		{"exactly the limit", []int{202401, 202402, 202403}, 3, 1},
		{"one over", []int{202401, 202402, 202403, 202404}, 3, 2},
		{"unsorted back-fill", []int{202405, 199001, 202405, 199001, 201012, 202405}, 1, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows := make([]row, len(tt.months))
			for i, m := range tt.months {
				rows[i].month = m
			}
			chunks := splitByPartitions(rows, tt.maxParts)
			if len(chunks) != tt.chunks {
				t.Fatalf("%d chunks, want %d", len(chunks), tt.chunks)
			}
			total := 0
			seen := map[int]bool{}
			for _, c := range chunks {
				parts := map[int]bool{}
				for _, r := range c {
					parts[r.month] = true
				}
				if len(parts) > tt.maxParts {
					t.Errorf("chunk touches %d partitions, limit %d", len(parts), tt.maxParts)
				}
				for m := range parts {
					if seen[m] {
						t.Errorf("partition %d split across chunks", m)
					}
					seen[m] = true
				}
				total += len(c)
			}
			if total != len(tt.months) {
				t.Errorf("chunks hold %d rows, want %d", total, len(tt.months))
			}
		})
	}
}

func TestAppendColumnsFillsEveryColumn(t *testing.T) {
	r, err := flatten(Statement{Tenant: "acme", JSON: []byte(fullStatement)})
	if err != nil {
		t.Fatal(err)
	}
	got := map[int]int{}
	err = appendColumns([]row{r, r, r}, func(i int, v any) error {
		got[i] = reflect.ValueOf(v).Len()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(columns) {
		t.Fatalf("appended %d columns, the INSERT names %d", len(got), len(columns))
	}
	for i, n := range got {
		if n != 3 {
			t.Errorf("column %s got %d values for 3 rows", columns[i], n)
		}
	}
	failing := errors.New("boom")
	err = appendColumns([]row{r}, func(i int, v any) error {
		if columns[i] == "verb_id" {
			return failing
		}
		return nil
	})
	if !errors.Is(err, failing) || !strings.Contains(err.Error(), "verb_id") {
		t.Fatalf("err = %v, want the failing column named", err)
	}
	if !strings.Contains(insertQuery, "(tenant, statement_id,") || !strings.HasSuffix(insertQuery, "original_stored_ms)") {
		t.Fatalf("insert query %q lacks the explicit column list", insertQuery)
	}
}

func TestCut(t *testing.T) {
	tests := []struct {
		rows, n, minRows int
		want             []int
	}{
		{0, 2, 10, nil},
		{5, 2, 10, []int{5}},
		{19, 2, 10, []int{19}},
		{20, 2, 10, []int{10, 10}},
		{25, 2, 10, []int{13, 12}},
		{100, 3, 10, []int{34, 34, 32}},
		{100, 1, 10, []int{100}},
	}
	for _, tt := range tests {
		var sizes []int
		for _, p := range cut(make([]row, tt.rows), tt.n, tt.minRows) {
			sizes = append(sizes, len(p))
		}
		if !slices.Equal(sizes, tt.want) {
			t.Errorf("cut(%d rows, %d, %d) = %v, want %v", tt.rows, tt.n, tt.minRows, sizes, tt.want)
		}
	}
}

func TestEmbeddedMigrations(t *testing.T) {
	migs, err := loadMigrations(chschema.Migrations)
	if err != nil {
		t.Fatal(err)
	}
	if len(migs) < 3 {
		t.Fatalf("%d migrations embedded", len(migs))
	}
	for i, m := range migs {
		if i > 0 && m.version <= migs[i-1].version {
			t.Errorf("migration %d after %d", m.version, migs[i-1].version)
		}
		for _, s := range m.statements {
			if strings.HasPrefix(s, "CREATE") && !strings.Contains(s, "IF NOT EXISTS") && !strings.HasPrefix(s, "CREATE OR REPLACE") {
				t.Errorf("%04d_%s: CREATE without IF NOT EXISTS cannot be re-run: %.60s", m.version, m.name, s)
			}
			if strings.Contains(s, "ADD COLUMN") && !strings.Contains(s, "IF NOT EXISTS") && !addColumn.MatchString(s) {
				t.Errorf("%04d_%s: ADD COLUMN without IF NOT EXISTS must add one column alone, or a re-run fails: %.60s", m.version, m.name, s)
			}
		}
	}
}

func TestLoadMigrations(t *testing.T) {
	tests := []struct {
		name      string
		files     fstest.MapFS
		err       string
		minServer serverVersion
		stmts     int
	}{
		{"plain", fstest.MapFS{"0001_a.sql": {Data: []byte("-- c;\nCREATE TABLE IF NOT EXISTS a (x UInt8)\nENGINE = Memory;\nSELECT 1;\n")}}, "", serverVersion{}, 2},
		{"gated", fstest.MapFS{"0002_b.sql": {Data: []byte("-- min_server_version: 21.8\nALTER TABLE a ADD COLUMN IF NOT EXISTS y UInt8;")}}, "", serverVersion{21, 8}, 1},
		{"bad name", fstest.MapFS{"1_a.sql": {Data: []byte("SELECT 1;")}}, "NNNN_name.sql", serverVersion{}, 0},
		{"empty", fstest.MapFS{"0001_a.sql": {Data: []byte("-- nothing\n")}}, "no statements", serverVersion{}, 0},
		{"duplicate", fstest.MapFS{"0001_a.sql": {Data: []byte("SELECT 1;")}, "0001_b.sql": {Data: []byte("SELECT 1;")}}, "two migrations", serverVersion{}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			migs, err := loadMigrations(tt.files)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(migs) != 1 || migs[0].minServer != tt.minServer || len(migs[0].statements) != tt.stmts {
				t.Fatalf("got %+v, want one migration gated at %v with %d statements", migs, tt.minServer, tt.stmts)
			}
		})
	}
}

func TestParseServerVersion(t *testing.T) {
	tests := []struct {
		in   string
		want serverVersion
		ok   bool
	}{
		{"18.16.1", serverVersion{18, 16}, true},
		{"25.8.2.29", serverVersion{25, 8}, true},
		{"x.y", serverVersion{}, false},
		{"18", serverVersion{}, false},
	}
	for _, tt := range tests {
		got, err := parseServerVersion(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseServerVersion(%q) = %v, %v", tt.in, got, err)
		}
	}
	if !(serverVersion{18, 16}).less(serverVersion{21, 8}) || (serverVersion{25, 1}).less(serverVersion{21, 8}) {
		t.Error("version order is wrong")
	}
}
