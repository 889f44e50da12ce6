package main

import (
	"strings"
	"testing"
)

// TestSummarize feeds a recorded test2json stream: a passing package with a
// skipped test, a package without tests, and a failing test.
func TestSummarize(t *testing.T) {
	in := `{"Action":"start","Package":"example/a"}
{"Action":"run","Package":"example/a","Test":"TestNginx"}
{"Action":"output","Package":"example/a","Test":"TestNginx","Output":"=== RUN   TestNginx\n"}
{"Action":"output","Package":"example/a","Test":"TestNginx","Output":"    deploy_test.go:51: nginx not found: apt-get install nginx\n"}
{"Action":"output","Package":"example/a","Test":"TestNginx","Output":"--- SKIP: TestNginx (0.00s)\n"}
{"Action":"skip","Package":"example/a","Test":"TestNginx","Elapsed":0}
{"Action":"run","Package":"example/a","Test":"TestOK"}
{"Action":"output","Package":"example/a","Test":"TestOK","Output":"=== RUN   TestOK\n"}
{"Action":"pass","Package":"example/a","Test":"TestOK","Elapsed":0}
{"Action":"output","Package":"example/a","Output":"ok  \texample/a\t0.010s\n"}
{"Action":"pass","Package":"example/a","Elapsed":0.01}
{"Action":"skip","Package":"example/b","Elapsed":0}
{"Action":"run","Package":"example/c","Test":"TestBad"}
{"Action":"output","Package":"example/c","Test":"TestBad","Output":"=== RUN   TestBad\n"}
{"Action":"output","Package":"example/c","Test":"TestBad","Output":"    c_test.go:9: boom\n"}
{"Action":"output","Package":"example/c","Test":"TestBad","Output":"--- FAIL: TestBad (0.00s)\n"}
{"Action":"fail","Package":"example/c","Test":"TestBad","Elapsed":0}
{"Action":"output","Package":"example/c","Output":"FAIL\n"}
{"Action":"output","Package":"example/c","Output":"FAIL\texample/c\t0.005s\n"}
{"Action":"fail","Package":"example/c","Elapsed":0.005}
`
	var out strings.Builder
	skips := summarize(strings.NewReader(in), &out)
	want := "ok  \texample/a\t0.010s\n" +
		"?   \texample/b\t[no test files]\n" +
		"=== RUN   TestBad\n    c_test.go:9: boom\n--- FAIL: TestBad (0.00s)\n" +
		"FAIL\nFAIL\texample/c\t0.005s\n" +
		"\nskipped: 1\n" +
		"SKIP example/a TestNginx: deploy_test.go:51: nginx not found: apt-get install nginx\n"
	if out.String() != want {
		t.Fatalf(
			"got\n%s\nwant\n%s",
			out.String(), want,
		)
	}
	if len(skips) != 1 {
		t.Fatalf(
			"skips %q",
			skips,
		)
	}
}
