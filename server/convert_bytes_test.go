package server

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/devapi-dev/devapi/storetest"
)

// convertGolden is what toDatabase answered when every optional field had
// a pointer of its own; the one-allocation form must answer the same bytes.
var convertGolden = []struct {
	name            string
	reads, allowed  []string
	withCredentials bool
	want            string
}{
	{"no regions, no ranges, no credentials", nil, nil, false,
		`{"all_members":["us-central1"],"allowed_ip_ranges":[],"auto_upgrade":true,"budget":360,"cluster_id":"6ef3ed21","consistent":false,"creation_time":1741964966,"customer_id":"owner@example.com","daily_backup_enabled":true,"database_id":"db-1","database_name":"name-of-db-1","database_type":"Fixed","db_acl_default_user_status":"true","db_acl_enabled":"false","db_conn_idle_timeout":21600000000000,"db_daily_bandwidth_limit":107374182400,"db_disk_threshold":1073741824,"db_eviction":true,"db_lua_credits_per_min":10000000000,"db_lua_timeout":250000000,"db_max_clients":1000,"db_max_commands_per_second":10000,"db_max_entry_size":104857600,"db_max_loads_per_sec":1000000,"db_max_request_size":10485760,"db_memory_threshold":1073741824,"db_request_limit":9223372036854776000,"db_resource_size":"S","db_store_max_idle":900000000000,"db_type":"pebble","endpoint":"db-1.example.io","eviction":true,"last_plan_upgrade_time":0,"modifying_state":"","multizone":false,"pool_id":"5fdb22ff","port":6379,"primary_members":["us-central1"],"primary_region":"us-central1","prod_pack_enabled":true,"prometheus_enabled":"false","read_regions":[],"region":"global","replicas":1,"reserved_per_region_price":0,"securityAddons":{"encryptionAtRest":false,"ipWhitelisting":false,"privateLink":false,"tlsMutualAuth":false,"vpcPeering":false},"state":"active","tls":true,"type":"paid","user_email":"owner@example.com"}`},
	{"read regions, ranges, credentials", []string{"us-west-1", "eu-west-1"}, []string{"10.0.0.0/8"}, true,
		`{"all_members":["us-central1","us-west-1","eu-west-1"],"allowed_ip_ranges":["10.0.0.0/8"],"auto_upgrade":true,"budget":360,"cluster_id":"6ef3ed21","consistent":false,"creation_time":1741964966,"customer_id":"owner@example.com","daily_backup_enabled":true,"database_id":"db-1","database_name":"name-of-db-1","database_type":"Fixed","db_acl_default_user_status":"true","db_acl_enabled":"false","db_conn_idle_timeout":21600000000000,"db_daily_bandwidth_limit":107374182400,"db_disk_threshold":1073741824,"db_eviction":true,"db_lua_credits_per_min":10000000000,"db_lua_timeout":250000000,"db_max_clients":1000,"db_max_commands_per_second":10000,"db_max_entry_size":104857600,"db_max_loads_per_sec":1000000,"db_max_request_size":10485760,"db_memory_threshold":1073741824,"db_request_limit":9223372036854776000,"db_resource_size":"S","db_store_max_idle":900000000000,"db_type":"pebble","endpoint":"db-1.example.io","eviction":true,"last_plan_upgrade_time":0,"modifying_state":"","multizone":false,"password":"password-of-db-1","pool_id":"5fdb22ff","port":6379,"primary_members":["us-central1"],"primary_region":"us-central1","prod_pack_enabled":true,"prometheus_enabled":"false","read_only_rest_token":"read-only-rest-token-of-db-1","read_regions":["us-west-1","eu-west-1"],"region":"global","replicas":3,"reserved_per_region_price":0,"rest_token":"rest-token-of-db-1","securityAddons":{"encryptionAtRest":false,"ipWhitelisting":false,"privateLink":false,"tlsMutualAuth":false,"vpcPeering":false},"state":"active","tls":true,"type":"paid","user_email":"owner@example.com"}`},
}

func TestToDatabaseAnswersTheSameBytes(t *testing.T) {
	s := &Server{}
	for _, c := range convertGolden {
		t.Run(c.name, func(t *testing.T) {
			d := storetest.NewDatabase("db-1", "owner@example.com", time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC))
			d.ReadRegions, d.AllowedIPs = c.reads, c.allowed
			got, err := json.Marshal(s.toDatabase(d, c.withCredentials))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != c.want {
				t.Errorf("answer changed:\n got %s\nwant %s", got, c.want)
			}
		})
	}
}

// TestToDatabaseAllocations holds the conversion to its one allocation for
// the optional fields' values plus the lists and derived ids, instead of
// one per field (about 30 before).
func TestToDatabaseAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("allocations are not counted under the race detector")
	}
	s := &Server{}
	d := storetest.NewDatabase("db-1", "owner@example.com", time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC))
	d.ReadRegions, d.AllowedIPs = []string{"us-west-1"}, []string{"10.0.0.0/8"}
	allocs := testing.AllocsPerRun(100, func() { _ = s.toDatabase(d, true) })
	t.Logf("%.0f allocations", allocs)
	if allocs > 4 {
		t.Errorf("toDatabase makes %.0f allocations, want at most 4", allocs)
	}
}
