package devapi_test

import (
	"testing"

	"github.com/devapi-dev/devapi"
)

func TestAllowedFrom(t *testing.T) {
	for _, tc := range []struct {
		list   []string
		remote string
		want   bool
	}{
		{nil, "192.0.2.1:5000", true},
		{[]string{}, "garbage", true},
		{[]string{"10.0.0.0/8"}, "127.0.0.1:5000", false},
		{[]string{"10.0.0.0/8"}, "10.200.3.4:5000", true},
		{[]string{"10.1.2.3/8"}, "10.200.3.4:5000", true}, // host bits set: the network is 10.0.0.0/8
		{[]string{"192.0.2.7"}, "192.0.2.7:1", true},
		{[]string{"192.0.2.7"}, "192.0.2.8:1", false},
		{[]string{"127.0.0.1/32"}, "[::ffff:127.0.0.1]:5000", true},
		{[]string{"::1"}, "[::1]:5000", true},
		{[]string{"2001:db8::/32"}, "[2001:db8::5]:80", true},
		{[]string{"2001:db8::/32"}, "[2001:db9::5]:80", false},
		{[]string{"not-an-ip", "0.0.0.0/0"}, "203.0.113.1:9", true},
		{[]string{"not-an-ip"}, "203.0.113.1:9", false},
		{[]string{"0.0.0.0/0"}, "not-an-address", false},
	} {
		if got := devapi.AllowedFrom(tc.list, tc.remote); got != tc.want {
			t.Errorf("AllowedFrom(%q, %q) = %t, want %t", tc.list, tc.remote, got, tc.want)
		}
	}
}
