// The floor bench/cluster.ts measures the operator against: the tutorial's operator as a Go
// controller-runtime user writes it (one worker, the manager's defaults). For each PostgresDB it
// keeps a headless Service and a StatefulSet with a volume claim template, owned by the
// PostgresDB, and writes the status when the StatefulSet's readiness changes. It does less than
// the operator (no credentials Secret, no role Services, no instance RBAC, no conditions, no
// Events), so it is a floor to beat, not the same work.
//
// Written for this project; built by bench/cluster.ts with `go build` (modules from the Go module
// proxy), never shipped.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
)

var postgresDB = schema.GroupVersionKind{
	Group: "database.thegeekyway.com", Version: "v1alpha1", Kind: "PostgresDB",
}

type reconciler struct {
	client.Client
}

func newDB() *unstructured.Unstructured {
	db := &unstructured.Unstructured{}
	db.SetGroupVersionKind(postgresDB)
	return db
}

func (r *reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	db := newDB()
	if err := r.Get(ctx, req.NamespacedName, db); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	version, _, _ := unstructured.NestedString(db.Object, "spec", "version")
	storage, _, _ := unstructured.NestedString(db.Object, "spec", "storage")
	replicas64, _, _ := unstructured.NestedInt64(db.Object, "spec", "replicas")
	database, _, _ := unstructured.NestedString(db.Object, "spec", "databaseName")
	replicas := int32(replicas64)
	size, err := resource.ParseQuantity(storage)
	if err != nil {
		return ctrl.Result{}, nil // a bad spec: nothing to do until it changes
	}
	labels := map[string]string{"app": db.GetName()}
	key := types.NamespacedName{Namespace: db.GetNamespace(), Name: db.GetName()}

	svc := &corev1.Service{}
	if err := r.Get(ctx, key, svc); apierrors.IsNotFound(err) {
		svc = &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: key.Name, Namespace: key.Namespace, Labels: labels},
			Spec: corev1.ServiceSpec{
				ClusterIP: corev1.ClusterIPNone,
				Selector:  labels,
				Ports:     []corev1.ServicePort{{Name: "postgres", Port: 5432}},
			},
		}
		if err := controllerutil.SetControllerReference(db, svc, r.Scheme()); err != nil {
			return ctrl.Result{}, err
		}
		if err := r.Create(ctx, svc); err != nil {
			return ctrl.Result{}, err
		}
	} else if err != nil {
		return ctrl.Result{}, err
	}

	sts := &appsv1.StatefulSet{}
	if err := r.Get(ctx, key, sts); apierrors.IsNotFound(err) {
		sts = &appsv1.StatefulSet{
			ObjectMeta: metav1.ObjectMeta{Name: key.Name, Namespace: key.Namespace, Labels: labels},
			Spec: appsv1.StatefulSetSpec{
				ServiceName: key.Name,
				Replicas:    &replicas,
				Selector:    &metav1.LabelSelector{MatchLabels: labels},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: labels},
					Spec: corev1.PodSpec{Containers: []corev1.Container{{
						Name:  "postgres",
						Image: "postgres:" + version,
						Env: []corev1.EnvVar{
							{Name: "POSTGRES_DB", Value: database},
							{Name: "POSTGRES_PASSWORD", Value: "changeme"},
							{Name: "PGDATA", Value: "/var/lib/postgresql/data/pgdata"},
						},
						Ports: []corev1.ContainerPort{{Name: "postgres", ContainerPort: 5432}},
						VolumeMounts: []corev1.VolumeMount{
							{Name: "data", MountPath: "/var/lib/postgresql/data"},
						},
					}}},
				},
				VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{
					ObjectMeta: metav1.ObjectMeta{Name: "data"},
					Spec: corev1.PersistentVolumeClaimSpec{
						AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
						Resources: corev1.VolumeResourceRequirements{
							Requests: corev1.ResourceList{corev1.ResourceStorage: size},
						},
					},
				}},
			},
		}
		if err := controllerutil.SetControllerReference(db, sts, r.Scheme()); err != nil {
			return ctrl.Result{}, err
		}
		if err := r.Create(ctx, sts); err != nil {
			return ctrl.Result{}, err
		}
	} else if err != nil {
		return ctrl.Result{}, err
	} else if sts.Spec.Replicas == nil || *sts.Spec.Replicas != replicas {
		sts.Spec.Replicas = &replicas
		if err := r.Update(ctx, sts); err != nil {
			return ctrl.Result{}, err
		}
	}

	ready := sts.Status.ReadyReplicas == replicas
	phase := "Creating"
	if ready {
		phase = "Running"
	}
	status := map[string]interface{}{
		"ready":              ready,
		"phase":              phase,
		"readyInstances":     int64(sts.Status.ReadyReplicas),
		"observedGeneration": db.GetGeneration(),
	}
	old, _, _ := unstructured.NestedMap(db.Object, "status")
	if old["ready"] != status["ready"] || old["phase"] != status["phase"] ||
		old["readyInstances"] != status["readyInstances"] ||
		old["observedGeneration"] != status["observedGeneration"] {
		patched := db.DeepCopy()
		if err := unstructured.SetNestedMap(patched.Object, status, "status"); err != nil {
			return ctrl.Result{}, err
		}
		if err := r.Status().Patch(ctx, patched, client.MergeFrom(db)); err != nil {
			return ctrl.Result{}, err
		}
	}
	return ctrl.Result{}, nil
}

func main() {
	metrics := flag.String("metrics-bind-address", "127.0.0.1:19081", "where /metrics listens")
	flag.Parse()
	mgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), ctrl.Options{
		Metrics:                metricsserver.Options{BindAddress: *metrics},
		HealthProbeBindAddress: "0",
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	err = ctrl.NewControllerManagedBy(mgr).
		For(newDB()).
		Owns(&appsv1.StatefulSet{}).
		Owns(&corev1.Service{}).
		Complete(&reconciler{mgr.GetClient()})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println("go-baseline: starting")
	if err := mgr.Start(ctrl.SetupSignalHandler()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
