// Package portclaim hands out blocks of TCP ports on this machine that no
// other user of the package holds at the same time: devapitest servers and
// devapi's own tests, which `go test` runs in parallel processes. A block is
// held through a lock file in the temporary folder, so a process that dies
// frees its blocks with it.
//
// The ports are below Linux's ephemeral range (32768 up), from which
// outgoing connections take theirs: a port from there may be taken by any
// connection between the claim and the bind. They stay clear of the other
// ranges devapi uses: serve's default --ports (16380-17379), devapi-load's
// default -ports (20100-20499), and the --ports 29000-29999 cmd/devapi's
// tests give the devapi serve they run, which their golden tables match.
package portclaim
