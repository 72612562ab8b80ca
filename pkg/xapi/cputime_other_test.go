//go:build !unix

package xapi

import "time"

func processCPU() (time.Duration, bool) { return 0, false }
