package console

import (
	"fmt"
	"html/template"
	"math"
	"slices"
	"strings"
	"time"
)

var funcs = template.FuncMap{
	"ago":      ago,
	"utc":      func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
	"hhmm":     func(t time.Time) string { return t.UTC().Format("15:04") },
	"join":     strings.Join,
	"has":      slices.Contains[[]string],
	"seconds":  seconds,
	"bars":     bars,
	"num":      func(f float64) string { return fmt.Sprintf("%.0f", f) },
	"defaults": func(s string) bool { return s == "statements/write" || s == "statements/read/mine" },
	"prefix":   func() string { return Prefix },
}

// ago is how long ago t was, roughly; "never" for the zero time.
func ago(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := time.Since(t)
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return fmt.Sprintf("%d min ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h ago", int(d.Hours()))
	}
	return fmt.Sprintf("%d days ago", int(d.Hours()/24))
}

func seconds(s float64) string {
	switch {
	case s == 0:
		return "0 s"
	case s < 120:
		return fmt.Sprintf("%.1f s", s)
	case s < 7200:
		return fmt.Sprintf("%.0f min", s/60)
	}
	return fmt.Sprintf("%.1f h", s/3600)
}

// bar is one column of a small bar chart drawn in SVG (viewBox 0 0 W 20).
type bar struct{ X, Y, W, H float64 }

// bars scales counts into the columns of a chart 20 units high, each 4 wide.
func bars(counts []float64) []bar {
	top := 0.0
	for _, c := range counts {
		top = math.Max(top, c)
	}
	out := make([]bar, len(counts))
	for i, c := range counts {
		h := 0.0
		if top > 0 {
			h = math.Max(c/top*20, 0)
			if c > 0 && h < 1 {
				h = 1
			}
		}
		out[i] = bar{X: float64(i) * 4, Y: 20 - h, W: 3, H: h}
	}
	return out
}
