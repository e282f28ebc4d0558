package workloads

import (
	"fmt"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/alertmend/kubectl-alertmend/pkg/check"
	"github.com/alertmend/kubectl-alertmend/pkg/snapshot"
)

// JobCannotCreatePods finds Jobs whose controller cannot create their pods: no pod exists to show
// why, only the Job's FailedCreate events.
type JobCannotCreatePods struct{}

// jobCreateRecent is how recent a Job's FailedCreate must be to say it still cannot: the job
// controller retries with a back-off that reaches minutes, not hours.
const jobCreateRecent = time.Hour

func (JobCannotCreatePods) Meta() check.Meta {
	return check.Meta{
		ID:       "job-cannot-create-pods",
		Title:    "Jobs cannot create their pods",
		Category: check.CategoryWorkloads,
		Severity: check.High,
		Requires: []snapshot.Kind{snapshot.KindJobs, snapshot.KindEvents},
		Optional: []snapshot.Kind{snapshot.KindCronJobs},
		LiveOnly: true,
		Description: "Reports a Job that has not finished, is not suspended and runs no pod, while the job controller's " +
			"FailedCreate Warning event of the last hour says why it cannot create one (a quota exceeded, an admission " +
			"webhook or Pod Security refusing), quoting it. A CronJob's Job is reported as the CronJob's.",
		Why: "The work does not run, and nothing shows it but the Job's events: there is no pod to fail. A CronJob keeps " +
			"starting Jobs that cannot run, and misses every schedule.",
		Remediation: "Remove the cause the event names (raise the quota, fix the pod template for Pod Security, or bring " +
			"back the admission webhook); the job controller retries by itself.",
		References: []string{"https://kubernetes.io/docs/concepts/workloads/controllers/job/"},
	}
}

func (c JobCannotCreatePods) Run(s *snapshot.Snapshot) []check.Finding {
	meta := c.Meta()
	var findings []check.Finding
	for i := range s.Jobs {
		job := &s.Jobs[i]
		if jobFinished(job) || (job.Spec.Suspend != nil && *job.Spec.Suspend) || job.Status.Active > 0 {
			continue
		}
		var refused *corev1.Event
		for _, e := range s.WarningEvents("Job", job.Namespace, job.Name) {
			if cannotCreate(&e) {
				refused = &e
				break // newest first
			}
		}
		if refused == nil || (!s.CollectedAt.IsZero() && s.CollectedAt.Sub(snapshot.LastSeen(refused)) > jobCreateRecent) {
			continue
		}
		owner := jobOwner(s, job)
		jobRef := snapshot.RefTo(snapshot.KindJobs, job.Namespace, job.Name)
		f := check.New(meta, fmt.Sprintf("%s cannot create its pods: %s", owner.Describe(), check.OneLine(refused.Message, 200)), owner)
		f.Incident = true
		f.Evidence = []string{
			fmt.Sprintf("job %s: %d active, %d succeeded, %d failed", job.Name, job.Status.Active, job.Status.Succeeded, job.Status.Failed),
			eventLine(s, refused, jobRef),
		}
		since := refused.FirstTimestamp.Time
		if since.IsZero() {
			since = snapshot.LastSeen(refused)
		}
		f.Since = check.Earliest(since)
		f.Fix = []string{
			"kubectl describe " + check.InNamespace(jobRef),
			fmt.Sprintf("kubectl get events -n %s --field-selector involvedObject.name=%s,reason=FailedCreate", check.Quote(job.Namespace), check.Quote(job.Name)),
		}
		findings = append(findings, f)
	}
	return findings
}

// jobFinished says the Job has completed or failed for good.
func jobFinished(job *batchv1.Job) bool {
	for _, c := range job.Status.Conditions {
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

// jobOwner is the CronJob that made job, when it is read; else the Job.
func jobOwner(s *snapshot.Snapshot, job *batchv1.Job) snapshot.Ref {
	if c := metav1.GetControllerOfNoCopy(job); c != nil && c.Kind == "CronJob" {
		for i := range s.CronJobs {
			if cj := &s.CronJobs[i]; cj.Namespace == job.Namespace && cj.Name == c.Name {
				return snapshot.RefTo(snapshot.KindCronJobs, cj.Namespace, cj.Name)
			}
		}
	}
	return snapshot.RefTo(snapshot.KindJobs, job.Namespace, job.Name)
}
