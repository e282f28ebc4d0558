package collect

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"syscall"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestTransientFailuresAreAskedForAgain(t *testing.T) {
	pods := schema.GroupResource{Resource: "pods"}
	statusCode := func(code int) error {
		return apierrors.NewGenericServerResponse(code, "list", pods, "", "injected", 0, true)
	}
	reset := &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}
	cases := []struct {
		name string
		err  error
		want bool
	}{
		{"no error", nil, false},
		{"Ctrl-C", context.Canceled, false},
		{"the run's deadline", fmt.Errorf("list: %w", context.DeadlineExceeded), false},
		{"an answer cut off", fmt.Errorf("decoding: %w", io.ErrUnexpectedEOF), true},
		{"a connection reset", fmt.Errorf("list: %w", reset), true},
		{"500", apierrors.NewInternalError(errors.New("etcd hiccup")), true},
		{"502", statusCode(http.StatusBadGateway), true},
		{"504", statusCode(http.StatusGatewayTimeout), true},
		{"429 after client-go's own waits", apierrors.NewTooManyRequests("slow down", 1), true},
		{"503: an aggregated API that is not installed", apierrors.NewServiceUnavailable("metrics.k8s.io"), false},
		{"forbidden", apierrors.NewForbidden(pods, "", errors.New("no")), false},
		{"not found", apierrors.NewNotFound(pods, ""), false},
	}
	for _, tc := range cases {
		if got := transient(tc.err); got != tc.want {
			t.Errorf("%s: transient(%v) = %v, want %v", tc.name, tc.err, got, tc.want)
		}
	}
}
