package redismonitor

import (
	"bufio"
	"strings"
	"testing"
)

func TestClientAddr(t *testing.T) {
	for line, want := range map[string]string{
		`1721284005.242090 [0 127.0.0.1:51234] "SET" "k" "v"`: "127.0.0.1:51234",
		`1721284005.242090 [3 lua] "set" "k"`:                 "lua",
		`1721284005.242090 [0 [::1]:6379] "PING"`:             "[::1]:6379",
		`garbage`: "",
	} {
		if got := clientAddr([]byte(line)); got != want {
			t.Errorf("clientAddr(%q) = %q, want %q", line, got, want)
		}
	}
}

func TestParseClients(t *testing.T) {
	list := "id=3 addr=127.0.0.1:5000 laddr=127.0.0.1:6379 fd=8 name= user=devapi-admin cmd=monitor\n" +
		"id=4 addr=127.0.0.1:5001 laddr=127.0.0.1:6379 fd=9 name= user=default cmd=set\n"
	got := parseClients(list)
	if len(got) != 2 || got["127.0.0.1:5000"] != "devapi-admin" || got["127.0.0.1:5001"] != "default" {
		t.Errorf("parseClients = %v", got)
	}
}

// TestReadLineBounded: a line over maxLine is cut to maxLine bytes, ending
// in "...", and the next line reads whole.
func TestReadLineBounded(t *testing.T) {
	long := "+" + strings.Repeat("x", 3*maxLine)
	br := bufio.NewReaderSize(strings.NewReader(long+"\r\n+next\r\n"), maxLine)
	l, err := readLine(br)
	if err != nil || len(l) != maxLine || !strings.HasSuffix(string(l), "...") || !strings.HasPrefix(string(l), "+xxx") {
		t.Fatalf("long line: %d bytes, %v", len(l), err)
	}
	if l, err := readLine(br); err != nil || string(l) != "+next" {
		t.Fatalf("next line: %q, %v", l, err)
	}
}
