package embeddedplane

// A stand-in for the Lua sandbox (script.go) until it lands: the front door
// (conn.go) is written against this interface. Delete this file when
// script.go exists.

import (
	"log/slog"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/alicebob/miniredis/v2/server"
)

// scriptConfig bounds the scripts of one database.
type scriptConfig struct {
	timeLimit   time.Duration
	memoryLimit int64
	logger      *slog.Logger
}

// scripts runs the scripts of one database.
type scripts struct{}

// busyError is Redis's answer to a command sent while a script runs.
const busyError = "BUSY Redis is busy running a script. You can only call SCRIPT KILL or FUNCTION KILL."

func newScripts(*miniredis.Miniredis, scriptConfig) *scripts { return &scripts{} }

// isScriptCommand reports whether cmd (upper case) runs or manages scripts.
func isScriptCommand(cmd string) bool {
	switch cmd {
	case "EVAL", "EVALSHA", "EVAL_RO", "EVALSHA_RO", "SCRIPT", "FUNCTION", "FCALL", "FCALL_RO":
		return true
	}
	return false
}

// handle refuses every script until the sandbox lands.
func (s *scripts) handle(c *server.Peer, _ string, _ []string) {
	c.WriteError("ERR scripts are not available on the embedded plane yet")
}

func (s *scripts) nested(*server.Peer) bool { return false }

func (s *scripts) enter(*server.Peer) (leave func(), busy bool) { return func() {}, false }

func (s *scripts) close() {}
