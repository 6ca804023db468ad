package devapi

// Plans a database can be on.
const (
	PlanFree       = "free"
	PlanPayg       = "payg"
	PlanFixed250MB = "fixed_250mb"
	PlanFixed1GB   = "fixed_1gb"
	PlanFixed5GB   = "fixed_5gb"
	PlanFixed10GB  = "fixed_10gb"
	PlanFixed50GB  = "fixed_50gb"
	PlanFixed100GB = "fixed_100gb"
	PlanFixed500GB = "fixed_500gb"
)

// Limits are the db_* limits a plan gives a database.
type Limits struct {
	MaxClients          int64
	MaxRequestSize      int64 // bytes
	DiskThreshold       int64 // bytes
	MaxEntrySize        int64 // bytes
	MemoryThreshold     int64 // bytes
	DailyBandwidthLimit int64 // bytes
	MaxCommandsPerSec   int64
	RequestLimit        float64 // commands in total; past int64 for unlimited plans
}

const (
	mib = int64(1) << 20
	gib = int64(1) << 30
)

// unlimitedRequests is what Upstash reports as db_request_limit for plans
// without a request cap: 2^63, one past the int64 range.
const unlimitedRequests = 9223372036854775808.0

var planLimits = map[string]Limits{
	PlanFree:       {MaxClients: 10000, MaxRequestSize: 10 * mib, DiskThreshold: 256 * mib, MaxEntrySize: 100 * mib, MemoryThreshold: 256 * mib, DailyBandwidthLimit: 50 * gib, MaxCommandsPerSec: 10000, RequestLimit: 500000},
	PlanPayg:       {MaxClients: 10000, MaxRequestSize: 10 * mib, DiskThreshold: 100 * gib, MaxEntrySize: 100 * mib, MemoryThreshold: 3 * gib, DailyBandwidthLimit: 200 * gib, MaxCommandsPerSec: 10000, RequestLimit: unlimitedRequests},
	PlanFixed250MB: {MaxClients: 1000, MaxRequestSize: 10 * mib, DiskThreshold: 250 * mib, MaxEntrySize: 100 * mib, MemoryThreshold: 250 * mib, DailyBandwidthLimit: 50 * gib, MaxCommandsPerSec: 10000, RequestLimit: unlimitedRequests},
	PlanFixed1GB:   {MaxClients: 1000, MaxRequestSize: 10 * mib, DiskThreshold: 1 * gib, MaxEntrySize: 100 * mib, MemoryThreshold: 1 * gib, DailyBandwidthLimit: 100 * gib, MaxCommandsPerSec: 10000, RequestLimit: unlimitedRequests},
	PlanFixed5GB:   {MaxClients: 5000, MaxRequestSize: 20 * mib, DiskThreshold: 5 * gib, MaxEntrySize: 200 * mib, MemoryThreshold: 5 * gib, DailyBandwidthLimit: 500 * gib, MaxCommandsPerSec: 16000, RequestLimit: unlimitedRequests},
	PlanFixed10GB:  {MaxClients: 10000, MaxRequestSize: 20 * mib, DiskThreshold: 10 * gib, MaxEntrySize: 200 * mib, MemoryThreshold: 10 * gib, DailyBandwidthLimit: 1000 * gib, MaxCommandsPerSec: 16000, RequestLimit: unlimitedRequests},
	PlanFixed50GB:  {MaxClients: 20000, MaxRequestSize: 30 * mib, DiskThreshold: 50 * gib, MaxEntrySize: 300 * mib, MemoryThreshold: 50 * gib, DailyBandwidthLimit: 5000 * gib, MaxCommandsPerSec: 20000, RequestLimit: unlimitedRequests},
	PlanFixed100GB: {MaxClients: 40000, MaxRequestSize: 40 * mib, DiskThreshold: 100 * gib, MaxEntrySize: 400 * mib, MemoryThreshold: 100 * gib, DailyBandwidthLimit: 10000 * gib, MaxCommandsPerSec: 40000, RequestLimit: unlimitedRequests},
	PlanFixed500GB: {MaxClients: 80000, MaxRequestSize: 50 * mib, DiskThreshold: 500 * gib, MaxEntrySize: 500 * mib, MemoryThreshold: 500 * gib, DailyBandwidthLimit: 20000 * gib, MaxCommandsPerSec: 80000, RequestLimit: unlimitedRequests},
}

// PlanLimits returns the limits of a plan, and false if the plan is unknown.
func PlanLimits(plan string) (Limits, bool) {
	l, ok := planLimits[plan]
	return l, ok
}

// PlanType returns the Database.type label of a plan ("free", "payg" or
// "paid" for fixed plans) and its database_type pricing label.
func PlanType(plan string) (typ, label string) {
	switch plan {
	case PlanFree:
		return "free", "Free"
	case PlanPayg, "":
		return "payg", "Pay as You Go"
	default:
		return "paid", "Fixed"
	}
}
