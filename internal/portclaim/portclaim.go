package portclaim

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/gofrs/flock"
)

// The range blocks come from, and their size.
const (
	Min       = 21000
	Max       = 28999
	BlockSize = 50
)

// Claim claims n consecutive ports (rounded up to whole blocks) and returns
// the first and the last, with the release of the claim. When no run of
// free blocks is long enough, or n is more than the range, it answers the
// whole range and a release that does nothing: whoever binds those ports
// must still skip ports in use, as devapi's servers do.
func Claim(n int) (lo, hi int, release func() error) {
	blocks := (Max - Min + 1) / BlockSize
	need := max(1, (n+BlockSize-1)/BlockSize)
	if need > blocks {
		return Min, Max, func() error { return nil }
	}
	starts := blocks - need + 1
	first := rand.N(starts)
	for i := range starts {
		start := (first + i) % starts
		if locks, ok := lockRun(start, need); ok {
			lo = Min + start*BlockSize
			return lo, lo + need*BlockSize - 1, func() error {
				for _, l := range locks {
					_ = l.Unlock()
				}
				return nil
			}
		}
	}
	return Min, Max, func() error { return nil }
}

// lockRun locks the need blocks from start, or none.
func lockRun(start, need int) ([]*flock.Flock, bool) {
	var locks []*flock.Flock
	for b := start; b < start+need; b++ {
		lock := flock.New(filepath.Join(os.TempDir(), fmt.Sprintf("devapi-ports-%d.lock", Min+b*BlockSize)))
		if locked, err := lock.TryLock(); err != nil || !locked {
			for _, l := range locks {
				_ = l.Unlock()
			}
			return nil, false
		}
		locks = append(locks, lock)
	}
	return locks, true
}
