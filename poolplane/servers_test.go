package poolplane_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/devapi-dev/devapi/poolplane"
)

func TestParseServers(t *testing.T) {
	const secret = "s3cr3t-Pa55"
	for _, c := range []struct {
		name    string
		text    string
		want    []poolplane.ServerSpec
		wantErr string // in the error; "" for none
	}{
		{
			name: "CommentsBlankLinesAndDefaults",
			text: "# the pool\n\nredis://admin:" + secret + "@10.0.0.5:6380\n  rediss://admin:" + secret + "@redis-2.internal  \n# end\n",
			want: []poolplane.ServerSpec{
				{Host: "10.0.0.5", Port: 6380, Username: "admin", Password: secret},
				{Host: "redis-2.internal", Port: 6379, TLS: true, Username: "admin", Password: secret},
			},
		},
		{
			name: "EscapedPasswordIPv6AndSlash",
			text: "redis://devapi-admin:a%40b%3Ac%2Fd@[::1]:7000/",
			want: []poolplane.ServerSpec{{Host: "::1", Port: 7000, Username: "devapi-admin", Password: "a@b:c/d"}},
		},
		{name: "Empty", text: "\n# nothing\n", wantErr: "holds no URL"},
		{name: "OtherScheme", text: "http://admin:" + secret + "@h:1", wantErr: "line 1: not a redis:// or rediss:// URL"},
		{name: "NoScheme", text: "admin:" + secret + "@h:1", wantErr: "line 1"},
		{name: "NotAURL", text: "redis://admin:" + secret + "@h:1:2:%zz", wantErr: "line 1"},
		{name: "NoUser", text: "redis://h:6379", wantErr: "needs devapi's admin user and its password"},
		{name: "NoPassword", text: "redis://admin@h:6379", wantErr: "needs devapi's admin user and its password"},
		{name: "EmptyPassword", text: "redis://admin:@h:6379", wantErr: "needs devapi's admin user"},
		{name: "DefaultUser", text: "redis://default:" + secret + "@h:6379", wantErr: `must not be "default"`},
		{name: "NoHost", text: "redis://admin:" + secret + "@:6379", wantErr: "no host"},
		{name: "BadPort", text: "redis://admin:" + secret + "@h:70000", wantErr: "port must be 1-65535"},
		{name: "Path", text: "redis://admin:" + secret + "@h:6379/3", wantErr: "without a path, query or fragment"},
		{name: "Query", text: "redis://admin:" + secret + "@h:6379?password=" + secret, wantErr: "without a path, query or fragment"},
		{
			name:    "DuplicateHostPort",
			text:    "redis://admin:" + secret + "@H:6379\n\nrediss://other:" + secret + "@h",
			wantErr: "line 3: h:6379 is on line 1 already",
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := poolplane.ParseServers(c.text)
			if c.wantErr == "" {
				if err != nil || !reflect.DeepEqual(got, c.want) {
					t.Errorf("ParseServers = %+v, %v; want %+v", got, err, c.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("ParseServers error %v, want one saying %q", err, c.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), secret) {
				t.Errorf("the error shows the password: %v", err)
			}
		})
	}
}

func TestServerSpecString(t *testing.T) {
	s := poolplane.ServerSpec{Host: "10.0.0.5", Port: 6379, TLS: true, Username: "admin", Password: "s3cr3t"}
	if got, want := s.String(), "rediss://admin:xxxxx@10.0.0.5:6379"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if got, want := s.Key(), "10.0.0.5:6379"; got != want {
		t.Errorf("Key() = %q, want %q", got, want)
	}
}
