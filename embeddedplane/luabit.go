package embeddedplane

// The bit library of scripts, with LuaBitOp 1.0's semantics (the one
// redis-server bundles): 32-bit operations whose results are signed.

import (
	"math"
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// bitArg is LuaBitOp's barg: a number to 32 bits, rounding to nearest even
// and wrapping as its 2^52+2^51 trick does.
func bitArg(L *lua.LState, n int) uint32 {
	f := float64(L.CheckNumber(n))
	return uint32(math.Float64bits(f + 6755399441055744.0))
}

func bitPush(L *lua.LState, b uint32) int {
	L.Push(lua.LNumber(int32(b)))
	return 1
}

func (e *scriptEnv) bitLib() *lua.LTable {
	t := e.L.NewTable()
	fold := func(op func(a, b uint32) uint32) lua.LGFunction {
		return func(L *lua.LState) int {
			b := bitArg(L, 1)
			for i := L.GetTop(); i > 1; i-- {
				b = op(b, bitArg(L, i))
			}
			return bitPush(L, b)
		}
	}
	shift := func(op func(b uint32, n uint) uint32) lua.LGFunction {
		return func(L *lua.LState) int {
			b := bitArg(L, 1)
			n := uint(bitArg(L, 2) & 31)
			return bitPush(L, op(b, n))
		}
	}
	e.setFuncs(t, map[string]lua.LGFunction{
		"tobit":  func(L *lua.LState) int { return bitPush(L, bitArg(L, 1)) },
		"bnot":   func(L *lua.LState) int { return bitPush(L, ^bitArg(L, 1)) },
		"band":   fold(func(a, b uint32) uint32 { return a & b }),
		"bor":    fold(func(a, b uint32) uint32 { return a | b }),
		"bxor":   fold(func(a, b uint32) uint32 { return a ^ b }),
		"lshift": shift(func(b uint32, n uint) uint32 { return b << n }),
		"rshift": shift(func(b uint32, n uint) uint32 { return b >> n }),
		"arshift": shift(func(b uint32, n uint) uint32 {
			return uint32(int32(b) >> n)
		}),
		"rol": shift(func(b uint32, n uint) uint32 { return b<<n | b>>(32-n) }),
		"ror": shift(func(b uint32, n uint) uint32 { return b>>n | b<<(32-n) }),
		"bswap": func(L *lua.LState) int {
			b := bitArg(L, 1)
			return bitPush(L, b>>24|(b>>8)&0xff00|(b&0xff00)<<8|b<<24)
		},
		"tohex": func(L *lua.LState) int {
			b := bitArg(L, 1)
			n := int32(8)
			if L.Get(2) != lua.LNil {
				n = int32(bitArg(L, 2))
			}
			digits := "0123456789abcdef"
			if n < 0 {
				n = -n
				digits = strings.ToUpper(digits)
			}
			if n > 8 {
				n = 8
			}
			buf := make([]byte, n)
			for i := n - 1; i >= 0; i-- {
				buf[i] = digits[b&15]
				b >>= 4
			}
			L.Push(lua.LString(buf))
			return 1
		},
	})
	return t
}
