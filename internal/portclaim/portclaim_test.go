package portclaim

import "testing"

// TestClaim checks claims are whole blocks inside the range that do not
// overlap while held, that a claim past the range answers the whole range,
// and that a release frees the blocks.
func TestClaim(t *testing.T) {
	lo1, hi1, release1 := Claim(3 * BlockSize)
	lo2, hi2, release2 := Claim(1)
	t.Cleanup(func() { _, _ = release1(), release2() })
	for _, c := range [][3]int{{lo1, hi1, 3 * BlockSize}, {lo2, hi2, BlockSize}} {
		lo, hi, size := c[0], c[1], c[2]
		if hi-lo+1 != size || lo < Min || hi > Max || (lo-Min)%BlockSize != 0 {
			t.Errorf("claim %d-%d: want %d ports of whole blocks inside %d-%d", lo, hi, size, Min, Max)
		}
	}
	if lo1 <= hi2 && lo2 <= hi1 {
		t.Errorf("claims %d-%d and %d-%d overlap", lo1, hi1, lo2, hi2)
	}
	if lo, hi, release := Claim(Max - Min + 2); lo != Min || hi != Max {
		t.Errorf("claim of more than the range: %d-%d, want the whole range", lo, hi)
	} else {
		_ = release()
	}
	// While held, the first block of a claim cannot be locked again.
	if _, ok := lockRun((lo1-Min)/BlockSize, 1); ok {
		t.Fatalf("block %d was locked again while claimed", lo1)
	}
	_ = release1()
	locks, ok := lockRun((lo1-Min)/BlockSize, 3)
	if !ok {
		t.Fatalf("released blocks %d-%d could not be locked again", lo1, hi1)
	}
	for _, l := range locks {
		_ = l.Unlock()
	}
}
