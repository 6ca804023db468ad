package embeddedplane

import (
	"fmt"

	"github.com/alicebob/miniredis/v2"
	"github.com/alicebob/miniredis/v2/server"
)

// This file is the one place that says which commands the embedded plane
// adds to miniredis (RedisJSON, hash-field expiry, FUNCTION/FCALL, ...).
// Each family lives in a file of its own and is listed in families; start
// registers every family on every database's miniredis.

// family is a set of commands the embedded plane adds to miniredis.
type family struct {
	// name says what the family is, for errors and the README's table.
	name string
	// commands returns the family's commands for one database, by upper-case
	// name; state the family keeps per database lives in the closures.
	commands func(m *miniredis.Miniredis) map[string]server.Cmd
}

// families lists every family the embedded plane adds.
var families = []family{}

// addCommands registers every family's commands on m.
func addCommands(m *miniredis.Miniredis) error {
	for _, fam := range families {
		for name, cmd := range fam.commands(m) {
			if err := m.Server().Register(name, cmd); err != nil {
				return fmt.Errorf("embeddedplane: %s: %w", fam.name, err)
			}
		}
	}
	return nil
}
