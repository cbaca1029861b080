package metrics_test

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/apigw-authz/authz/internal/metrics"
)

func ExampleRecord_AddTo() {
	line := map[string]any{"msg": "decision", "requestId": "c6af9ac6"}
	r := metrics.Record{
		Namespace:  "Authz",
		Dimensions: [][]string{{"Outcome"}},
		Values:     map[string]string{"Outcome": "deny"},
		Metrics: []metrics.Metric{
			{Name: "Decisions", Unit: metrics.Count, Value: 1},
			{Name: "Latency", Unit: metrics.Milliseconds, Value: 2.5},
		},
	}
	if err := r.AddTo(line, time.UnixMilli(1764504000123)); err != nil {
		fmt.Println(err)
		return
	}
	b, _ := json.Marshal(line)
	fmt.Println(string(b))
	// Output:
	// {"Decisions":1,"Latency":2.5,"Outcome":"deny","_aws":{"Timestamp":1764504000123,"CloudWatchMetrics":[{"Namespace":"Authz","Dimensions":[["Outcome"]],"Metrics":[{"Name":"Decisions","Unit":"Count"},{"Name":"Latency","Unit":"Milliseconds"}]}]},"msg":"decision","requestId":"c6af9ac6"}
}
