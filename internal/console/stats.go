package console

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/devapi-dev/devapi/upstash"
)

// periods are the stats API's periods (openapi.yaml, getDatabaseStats).
var periods = []string{"1h", "3h", "12h", "1d", "3d", "7d"}

// Chart geometry, in the SVG's user units.
const (
	chartW, chartH = 600, 160
	chartPad       = 4
)

// chart is one series drawn as an inline SVG polyline.
type chart struct {
	Title       string
	Unit        string
	Points      string // the polyline's points attribute
	Area        string // the same line closed down to the axis
	Latest, Max string
	From, To    string
	Empty       bool
	W, H        int
}

// newChart scales points into the chart's box: time on x, value on y from 0
// to the series' maximum.
func newChart(title, unit string, pts []upstash.Point) chart {
	ch := chart{Title: title, Unit: unit, W: chartW, H: chartH}
	if len(pts) == 0 {
		ch.Empty = true
		return ch
	}
	pts = slices.Clone(pts)
	slices.SortFunc(pts, func(a, b upstash.Point) int { return a.Time.Compare(b.Time) })
	t0, t1 := pts[0].Time, pts[len(pts)-1].Time
	maxV := 0.0
	for _, p := range pts {
		maxV = max(maxV, p.Value)
	}
	span := t1.Sub(t0).Seconds()
	var b strings.Builder
	for i, p := range pts {
		x := float64(chartPad)
		if span > 0 {
			x += p.Time.Sub(t0).Seconds() / span * (chartW - 2*chartPad)
		} else if len(pts) == 1 {
			x = chartW / 2
		}
		y := float64(chartH - chartPad)
		if maxV > 0 {
			y -= p.Value / maxV * (chartH - 2*chartPad)
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%.1f,%.1f", x, y)
	}
	ch.Points = b.String()
	first, _, _ := strings.Cut(ch.Points, " ")
	last := ch.Points[strings.LastIndexByte(" "+ch.Points, ' '):]
	fx, _, _ := strings.Cut(first, ",")
	lx, _, _ := strings.Cut(strings.TrimSpace(last), ",")
	base := strconv.Itoa(chartH - chartPad)
	ch.Area = fx + "," + base + " " + ch.Points + " " + lx + "," + base
	ch.Latest = formatValue(pts[len(pts)-1].Value)
	ch.Max = formatValue(maxV)
	ch.From = t0.UTC().Format("Jan 2 15:04")
	ch.To = t1.UTC().Format("Jan 2 15:04 UTC")
	return ch
}

// formatValue writes a sample's value without needless decimals.
func formatValue(v float64) string {
	if v == float64(int64(v)) {
		return strconv.FormatInt(int64(v), 10)
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

// stats handles GET /databases/{id}/stats?period=1h.
func (c *Console) stats(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	period := r.URL.Query().Get("period")
	if !slices.Contains(periods, period) {
		period = "1h"
	}
	db, err := s.client.GetDatabase(r.Context(), id, true)
	if err != nil {
		c.apiFailed(w, r, s, err, "")
		return
	}
	st, err := s.client.Stats(r.Context(), id, period)
	if err != nil {
		c.apiFailed(w, r, s, err, "")
		return
	}
	v := c.page(s, "Stats of "+db.Name, "databases")
	v.DB, v.Tab = db, "stats"
	v.Data = struct {
		Period        string
		Periods       []string
		Charts        []chart
		DailyCommands int64
		TotalCommands int64
	}{period, periods, []chart{
		newChart("Throughput", "commands/s", st.Throughput),
		newChart("Keyspace", "keys", st.Keyspace),
		newChart("Connections", "open connections", st.ConnectionCount),
	}, st.DailyCommands, st.TotalCommands}
	c.render(w, r, http.StatusOK, "stats", v)
}
