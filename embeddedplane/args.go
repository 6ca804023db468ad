package embeddedplane

// Arguments miniredis does not survive. With nothing but a database's
// password, each of these stopped the whole process (a panic), or made
// miniredis allocate gigabytes, or loop for ever holding its lock; found by
// running every command miniredis knows with odd arguments. redis-server
// refuses most of them with the errors below; the front door answers them
// before miniredis sees the command. What is left is caught by dispatch's
// recover.

import (
	"fmt"
	"math/big"
	"strconv"
	"strings"
)

// maxCount bounds what miniredis allocates or loops over for a count in a
// command's arguments where redis-server has no bound of its own: LPOS's
// COUNT (miniredis allocates it up front) and the repeated elements of
// SRANDMEMBER, ZRANDMEMBER and HRANDFIELD with a negative count.
const maxCount = 1 << 20

// argsRefused returns the error to answer for a command (upper case) whose
// arguments miniredis would not survive, or "" to let miniredis run it.
func argsRefused(cmd string, args []string) string {
	switch cmd {
	case "INCRBYFLOAT":
		// miniredis panics on +inf plus -inf.
		if len(args) == 2 && infinite(args[1]) {
			return "ERR increment would produce NaN or Infinity"
		}
	case "HINCRBYFLOAT":
		if len(args) == 3 && infinite(args[2]) {
			return "ERR value is NaN or Infinity"
		}
	case "SETBIT":
		// miniredis allocates offset/8 bytes, or panics.
		if len(args) == 3 {
			if n, err := strconv.ParseInt(args[1], 10, 64); err != nil || n < 0 || n >= 1<<32 {
				return "ERR bit offset is not an integer or out of range"
			}
		}
	case "SETRANGE":
		if len(args) == 3 {
			n, err := strconv.ParseInt(args[1], 10, 64)
			switch {
			case err != nil:
			case n < 0:
				return "ERR offset is out of range"
			case n > maxBulk-int64(len(args[2])):
				return "ERR string exceeds maximum allowed size (proto-max-bulk-len)"
			}
		}
	case "SCAN", "SSCAN", "ZSCAN", "HSCAN":
		// A negative cursor panics SSCAN and ZSCAN.
		i := 1
		if cmd == "SCAN" {
			i = 0
		}
		if len(args) > i {
			if n, err := strconv.ParseInt(args[i], 10, 64); err == nil && n < 0 {
				return "ERR invalid cursor"
			}
		}
	case "XTRIM", "XADD":
		// A negative MAXLEN panics XTRIM.
		if negativeMaxLen(cmd, args) {
			return "ERR The MAXLEN argument must be >= 0."
		}
	case "LPOS":
		// LPOS key element [RANK r] [COUNT n] [MAXLEN m]
		for i := 2; i+1 < len(args); i += 2 {
			if strings.EqualFold(args[i], "COUNT") {
				if n, err := strconv.ParseInt(args[i+1], 10, 64); err == nil && n > maxCount {
					return fmt.Sprintf("ERR COUNT can't be more than %d on the embedded plane", maxCount)
				}
			}
		}
	case "SRANDMEMBER", "ZRANDMEMBER", "HRANDFIELD":
		if len(args) >= 2 {
			if n, err := strconv.ParseInt(args[1], 10, 64); err == nil && n < -maxCount {
				return fmt.Sprintf("ERR value is out of range, value must between %d and 9223372036854775807 on the embedded plane", -maxCount)
			}
		}
	case "SELECT", "MOVE", "COPY":
		// miniredis makes a database for any index, and walks them all on
		// every command.
		if db, ok := dbIndex(cmd, args); ok && (db < 0 || db >= logicalDBs) {
			return "ERR DB index is out of range"
		}
	}
	return ""
}

// infinite reports whether s is an infinity as miniredis parses floats.
func infinite(s string) bool {
	f, _, err := big.ParseFloat(s, 10, 128, 0)
	return err == nil && f.IsInf()
}

// negativeMaxLen reports whether XTRIM key MAXLEN [=|~] n ..., or XADD key
// [NOMKSTREAM] [MAXLEN|MINID [=|~] n] [LIMIT c] id ..., has n < 0.
func negativeMaxLen(cmd string, args []string) bool {
	for i := 1; i < len(args); i++ {
		switch strings.ToUpper(args[i]) {
		case "NOMKSTREAM":
		case "LIMIT":
			i++
		case "MAXLEN", "MINID":
			isMaxLen := strings.EqualFold(args[i], "MAXLEN")
			if i+1 < len(args) && (args[i+1] == "=" || args[i+1] == "~") {
				i++
			}
			if i+1 < len(args) {
				i++
				if n, err := strconv.ParseInt(args[i], 10, 64); isMaxLen && err == nil && n < 0 {
					return true
				}
			}
		default:
			if cmd == "XADD" {
				return false // the entry's ID: fields follow
			}
		}
	}
	return false
}

// dbIndex returns the logical database SELECT db, MOVE key db or COPY src
// dst [DB db] names, if it names one as an integer.
func dbIndex(cmd string, args []string) (int64, bool) {
	var s string
	switch {
	case cmd == "SELECT" && len(args) == 1:
		s = args[0]
	case cmd == "MOVE" && len(args) == 2:
		s = args[1]
	case cmd == "COPY":
		for i := 2; i+1 < len(args); i++ {
			if strings.EqualFold(args[i], "DB") {
				s = args[i+1]
			}
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}
