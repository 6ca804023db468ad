package redisserverplane

import (
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"time"

	"github.com/devapi-dev/devapi"
)

// versionTimeout bounds `redis-server --version`.
const versionTimeout = 10 * time.Second

// versionRE finds the version in `redis-server --version`:
// "Redis server v=7.0.15 sha=00000000:0 malloc=jemalloc-5.3.0 ...".
var versionRE = regexp.MustCompile(`\bv=(\d+)\.(\d+)\.\d+`)

// redisMinor returns x of the Redis 7.x that binary is, for
// devapi.ACLRules, which names subcommands only the versions that know
// them; for a newer major version, one that knows every 7.x subcommand.
// Older than 7.0 is an error: the rules need Redis 7's ACL selectors and
// subcommand rules.
func redisMinor(ctx context.Context, binary string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, versionTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, "--version")
	cmd.Env = childEnv
	out, err := cmd.Output()
	if err != nil {
		return 0, fmt.Errorf("redisserverplane: %s --version: %w", binary, err)
	}
	m := versionRE.FindSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("redisserverplane: %s --version does not say which Redis it is", binary)
	}
	major, _ := strconv.Atoi(string(m[1]))
	minor, _ := strconv.Atoi(string(m[2]))
	aclMinor, err := devapi.ACLMinor(major, minor)
	if err != nil {
		return 0, fmt.Errorf("redisserverplane: %s is Redis %d.%d; devapi needs Redis 7.0 or newer (its ACL rules)", binary, major, minor)
	}
	return aclMinor, nil
}
