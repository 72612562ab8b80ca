// Package config reads service settings from flags and LRS_* environment
// variables. Every flag has a matching variable (flag "kafka-brokers" is
// LRS_KAFKA_BROKERS); a flag given on the command line wins over the variable,
// and the variable wins over the default. Keeping one name per setting lets
// the same binary run from a shell, a systemd unit or docker-compose.
package config

import (
	"flag"
	"fmt"
	"os"
	"strings"
)

// EnvName returns the environment variable that sets flag name.
func EnvName(flagName string) string {
	return "LRS_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// Parse parses args into fs, then fills every flag not given on the command
// line from its LRS_* variable. A variable holding a bad value is an error
// naming both the variable and the value.
func Parse(fs *flag.FlagSet, args []string) error {
	return ParsePrefixed(fs, args, "LRS_")
}

// ParsePrefixed is Parse with variables named prefix + the flag's name
// (a command whose short flag names would clash with the services' own,
// such as `lrs import -key`, reads LRS_IMPORT_KEY).
func ParsePrefixed(fs *flag.FlagSet, args []string, prefix string) error {
	envName := func(flagName string) string {
		return prefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
	}
	fs.VisitAll(func(f *flag.Flag) {
		f.Usage = fmt.Sprintf("%s (env %s)", f.Usage, envName(f.Name))
	})
	if err := fs.Parse(args); err != nil {
		return err
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var errs []string
	fs.VisitAll(func(f *flag.Flag) {
		if given[f.Name] {
			return
		}
		v, ok := os.LookupEnv(envName(f.Name))
		if !ok {
			return
		}
		if err := fs.Set(f.Name, v); err != nil {
			errs = append(errs, fmt.Sprintf("%s=%q: %v", envName(f.Name), v, err))
		}
	})
	if len(errs) > 0 {
		return fmt.Errorf("invalid environment: %s", strings.Join(errs, "; "))
	}
	return nil
}

// SplitList splits a comma-separated setting, dropping blanks.
func SplitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
