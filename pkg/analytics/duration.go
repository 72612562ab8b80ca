package analytics

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Calendar units have no fixed length; analytics uses the usual
// approximations (a year of 365 days, a month of 30) and documents them.
const (
	secondsPerMinute = 60
	secondsPerHour   = 3600
	secondsPerDay    = 86400
	secondsPerWeek   = 7 * secondsPerDay
	secondsPerMonth  = 30 * secondsPerDay
	secondsPerYear   = 365 * secondsPerDay
)

// parseDuration converts an ISO 8601 duration (xAPI result.duration, e.g.
// "PT1H30M5.25S", "P1DT2H", "P3W") to seconds.
func parseDuration(s string) (float64, error) {
	rest, ok := strings.CutPrefix(s, "P")
	if !ok || rest == "" {
		return 0, fmt.Errorf("%q is not an ISO 8601 duration", s)
	}
	var total float64
	inTime := false
	seen := false
	for rest != "" {
		if rest[0] == 'T' {
			if inTime {
				return 0, fmt.Errorf("%q has two T designators", s)
			}
			inTime = true
			rest = rest[1:]
			if rest == "" {
				return 0, fmt.Errorf("%q ends after T", s)
			}
			continue
		}
		i := strings.IndexAny(rest, "YMWDHS")
		if i <= 0 {
			return 0, fmt.Errorf("%q is not an ISO 8601 duration", s)
		}
		n, err := strconv.ParseFloat(strings.Replace(rest[:i], ",", ".", 1), 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("%q has a bad number %q", s, rest[:i])
		}
		unit, err := unitSeconds(rest[i], inTime)
		if err != nil {
			return 0, fmt.Errorf("%q: %w", s, err)
		}
		total += n * unit
		seen = true
		rest = rest[i+1:]
	}
	if !seen {
		return 0, fmt.Errorf("%q has no components", s)
	}
	return total, nil
}

func unitSeconds(u byte, inTime bool) (float64, error) {
	if inTime {
		switch u {
		case 'H':
			return secondsPerHour, nil
		case 'M':
			return secondsPerMinute, nil
		case 'S':
			return 1, nil
		}
		return 0, errors.New("date unit after T")
	}
	switch u {
	case 'Y':
		return secondsPerYear, nil
	case 'M':
		return secondsPerMonth, nil
	case 'W':
		return secondsPerWeek, nil
	case 'D':
		return secondsPerDay, nil
	}
	return 0, errors.New("time unit before T")
}
