// pyoptgra._core: the bridge between Python and the Fortran engine.
//
// One engine session per call: oginit -> configuration -> ogexec -> ogclos, the close guaranteed
// by RAII.  The GIL is released while the engine runs and re-taken inside the callbacks.  A Python
// exception raised in a callback is stored, the engine is told to stop, the session closes, and
// the original exception is raised again.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>

#include "optgra.h"

namespace py = pybind11;

namespace {

using DoubleArray = py::array_t<double, py::array::c_style | py::array::forcecast>;
using IntArray = py::array_t<int, py::array::c_style | py::array::forcecast>;

// Throw the Python exception that matches an engine status.
void check(int status, const char* what) {
  switch (status) {
    case OG_STATUS_OK:
      return;
    case OG_STATUS_INVALID_ARGUMENT:
      throw py::value_error(std::string("optgra engine rejected the value given to ") + what);
    case OG_STATUS_OUT_OF_MEMORY:
      throw std::bad_alloc();
    case OG_STATUS_NOT_READY:
      throw std::runtime_error(std::string("optgra engine not ready for ") + what);
    default:
      throw std::runtime_error(std::string("optgra engine failed in ") + what + " with status " +
                               std::to_string(status));
  }
}

// Owns one engine session.
class Session {
 public:
  Session(int n, int m) { check(oginit(&state_, n, m), "oginit"); }
  ~Session() { ogclos(&state_); }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;
  void* get() const { return state_; }

 private:
  void* state_ = nullptr;
};

// What the callbacks need, and the first Python error they met.
struct Callbacks {
  py::object fitness;
  py::object gradient;
  py::object log;
  py::object history = py::none();
  std::optional<py::error_already_set> error;
  // Evaluates a finite-difference stencil in one call, or None.
  py::object batch_fitness = py::none();
};

// The point handed to a callback: a fresh array that owns its data.  A view of engine memory
// would change under the callback's feet when it keeps x (a cache, a recorded history, a
// traceback's frame locals) and dangle once the session is closed; copying n doubles is cheap
// next to the Python call.
py::array_t<double> point(const double* data, int n) {
  return py::array_t<double>(static_cast<py::ssize_t>(n), data);
}

// The same for a row-major (rows, n) block of points.
py::array_t<double> points(const double* data, int rows, int n) {
  return py::array_t<double>({static_cast<py::ssize_t>(rows), static_cast<py::ssize_t>(n)}, data);
}

// Run f with the GIL held; store any exception and report failure to the engine.  Pending
// signals are handled before and after f: Python runs its handlers (Ctrl-C's KeyboardInterrupt)
// only between bytecodes, and a callback implemented in C runs none, so without these checks a
// Ctrl-C during a run would wait for its end.
template <typename F>
int guarded(Callbacks* cb, F&& f) {
  py::gil_scoped_acquire gil;
  if (cb->error) return 1;
  try {
    if (PyErr_CheckSignals() != 0) throw py::error_already_set();
    f();
    if (PyErr_CheckSignals() != 0) throw py::error_already_set();
    return 0;
  } catch (py::error_already_set& e) {
    cb->error.emplace(std::move(e));
  } catch (py::builtin_exception& e) {
    e.set_error();
    cb->error.emplace();
  } catch (std::exception& e) {
    PyErr_SetString(PyExc_RuntimeError, e.what());
    cb->error.emplace();
  }
  return 1;
}

extern "C" int fitness_trampoline(void* context, int n, const double* x, int n_out,
                                  double* values) {
  auto* cb = static_cast<Callbacks*>(context);
  return guarded(cb, [&] {
    DoubleArray out = DoubleArray::ensure(cb->fitness(point(x, n)));
    if (!out) throw py::error_already_set();
    if (out.ndim() != 1 || out.shape(0) != n_out)
      throw py::value_error("fitness callback must return a 1-D array of " + std::to_string(n_out) +
                            " values, got " + std::to_string(out.size()));
    std::memcpy(values, out.data(), sizeof(double) * n_out);
  });
}

extern "C" int batch_fitness_trampoline(void* context, int n, int n_points, const double* x, int n_out,
                                        double* values) {
  auto* cb = static_cast<Callbacks*>(context);
  return guarded(cb, [&] {
    DoubleArray out = DoubleArray::ensure(cb->batch_fitness(points(x, n_points, n)));
    if (!out) throw py::error_already_set();
    if (out.ndim() != 2 || out.shape(0) != n_points || out.shape(1) != n_out)
      throw py::value_error("batch fitness callback must return an array of shape (" + std::to_string(n_points) +
                            ", " + std::to_string(n_out) + "), got size " + std::to_string(out.size()));
    std::memcpy(values, out.data(), sizeof(double) * n_points * n_out);
  });
}

extern "C" int gradient_trampoline(void* context, int n, const double* x, int n_out,
                                   double* jacobian) {
  auto* cb = static_cast<Callbacks*>(context);
  return guarded(cb, [&] {
    if (cb->gradient.is_none()) throw std::runtime_error("the engine asked for a gradient, but none was given");
    DoubleArray out = DoubleArray::ensure(cb->gradient(point(x, n)));
    if (!out) throw py::error_already_set();
    if (out.ndim() != 2 || out.shape(0) != n_out || out.shape(1) != n)
      throw py::value_error("gradient callback must return an array of shape (" +
                            std::to_string(n_out) + ", " + std::to_string(n) + ")");
    std::memcpy(jacobian, out.data(), sizeof(double) * n_out * n);
  });
}

extern "C" void log_trampoline(void* context, int level, const char* message, int length) {
  auto* cb = static_cast<Callbacks*>(context);
  guarded(cb, [&] { cb->log(level, py::str(message, static_cast<size_t>(length))); });
}

extern "C" void history_trampoline(void* context, int iteration, int n, const double* x, int n_out,
                                   const double* y) {
  auto* cb = static_cast<Callbacks*>(context);
  guarded(cb, [&] { cb->history(iteration, point(x, n), point(y, n_out)); });
}

// Iteration budgets: negative values are passed on (the engine rejects them); values beyond
// MAX_BUDGET, which no run reaches, become MAX_BUDGET, which leaves the engine room to count past.
constexpr long long MAX_BUDGET = 1000000000;
int clamp_budget(long long budget) { return static_cast<int>(std::clamp(budget, -1LL, MAX_BUDGET)); }

template <typename Array>
void require_size(const Array& a, py::ssize_t size, const char* name) {
  if (a.ndim() != 1 || a.shape(0) != size)
    throw py::value_error(std::string(name) + " must be a 1-D array of length " + std::to_string(size) +
                          ", got size " + std::to_string(a.size()));
}

template <typename Array>
Array setting(const py::dict& settings, const char* name, py::ssize_t size) {
  Array a = settings[name].cast<Array>();
  require_size(a, size, name);
  return a;
}

// An optional settings entry: None when absent.
py::object optional_setting(const py::dict& settings, const char* name) {
  if (settings.contains(name)) return settings[name];
  return py::none();
}

// One engine session for n variables and m constraints, configured from the settings dict
// (every key of pyoptgra's EngineProblem.settings).
class Configured {
 public:
  Configured(py::ssize_t n, const IntArray& output_types, const py::dict& settings, Callbacks& cb)
      : n_(n), m_(constraint_count(output_types)), session_(static_cast<int>(n_), static_cast<int>(m_)) {
    void* s = session_.get();
    auto lower = setting<DoubleArray>(settings, "lower", n_);
    auto upper = setting<DoubleArray>(settings, "upper", n_);
    check(ogbnds(s, lower.data(), upper.data()), "lower/upper bounds");
    check(ogctyp(s, output_types.data()), "output_types");
    check(ogcsca(s, setting<DoubleArray>(settings, "tolerances", m_ + 1).data()), "tolerances");
    check(ogcpri(s, setting<IntArray>(settings, "priorities", m_ + 1).data()), "priorities");
    check(ogvsca(s, setting<DoubleArray>(settings, "variable_scales", n_).data()), "variable_scales");
    check(ogvtyp(s, setting<IntArray>(settings, "variable_types", n_).data()), "variable_types");
    check(ogderi(s, settings["derivative_mode"].cast<int>(),
                 setting<DoubleArray>(settings, "difference_steps", n_).data()),
          "derivative_mode/difference_steps");
    check(ogdist(s, settings["max_distance"].cast<double>(), settings["probe_distance"].cast<double>()),
          "max_distance/probe_distance");
    // A budget beyond the engine's integer range is unlimited in practice: clamp it.
    const int iterations = clamp_budget(settings["max_iterations"].cast<long long>());
    check(ogiter(s, iterations, clamp_budget(settings["max_correction_iterations"].cast<long long>()),
                 iterations, iterations, iterations),
          "iteration limits");
    check(ogomet(s, settings["method"].cast<int>()), "method");
    const int log_level = settings["log_level"].cast<int>();
    check(ogwlog(s, log_level, cb.log.is_none() ? nullptr : &log_trampoline, &cb), "log_level");
    check(oglimt(s, clamp_budget(settings["max_evaluations"].cast<long long>()),
                 settings["time_limit"].cast<double>()),
          "max_evaluations/time_limit");
    if (!cb.history.is_none()) check(ogwhis(s, &history_trampoline, &cb), "history");
    if (!cb.batch_fitness.is_none()) check(ogbfit(s, &batch_fitness_trampoline), "batch_fitness");
    // a start point whose fitness the caller knows (an evolve's individual): (x, engine-order
    // values of the fitness callback); the engine then does not evaluate it again
    if (settings.contains("known_point")) {
      auto known = settings["known_point"].cast<std::pair<DoubleArray, DoubleArray>>();
      require_size(known.first, n_, "known_point x");
      if (known.second.ndim() != 1) throw py::value_error("known_point values must be a 1-D array");
      check(ogknow(s, known.first.data(), static_cast<int>(known.second.shape(0)), known.second.data()),
            "known_point (x of length n, finite values of the fitness callback's length)");
    }
    // the BLAS kernels as addresses (absent or 0: the engine's built-in products)
    if (settings.contains("blas")) {
      auto blas = settings["blas"].cast<std::pair<std::uintptr_t, std::uintptr_t>>();
      check(ogblas(s, reinterpret_cast<og_gemm_fn>(blas.first), reinterpret_cast<og_trmm_fn>(blas.second)),
            "blas");
    }
  }
  void* get() const { return session_.get(); }
  py::ssize_t n() const { return n_; }
  static py::ssize_t constraint_count(const IntArray& output_types) {
    if (output_types.ndim() != 1 || output_types.size() < 1)
      throw py::value_error("output_types must be a 1-D array holding at least the merit type");
    return output_types.size() - 1;
  }
  py::ssize_t m() const { return m_; }

 private:
  py::ssize_t n_, m_;
  Session session_;
};

struct Run {
  int result = 0, iterations = 0, fitness_calls = 0, gradient_calls = 0, nonfinite = 0, status = 0;
  int reason = OG_STOP_NONE;
};

// ogexec with the GIL released, then the counters.
Run execute(const Configured& c, double* x, double* y, Callbacks& cb) {
  Run run;
  {
    py::gil_scoped_release release;
    run.status = ogexec(c.get(), x, y, &run.result, &run.iterations,
                        cb.fitness.is_none() ? nullptr : &fitness_trampoline,
                        cb.gradient.is_none() ? nullptr : &gradient_trampoline, &cb);
  }
  ogstat(c.get(), &run.fitness_calls, &run.gradient_calls, &run.nonfinite);
  ogwhy(c.get(), &run.reason);
  return run;
}

// After the session has closed: the callback's own exception first, then the engine status.
void raise_errors(Callbacks& cb, const Run& run) {
  if (cb.error) throw std::move(*cb.error);
  if (run.status == OG_STATUS_NONFINITE_OUTPUT)
    throw py::value_error("engine output " + std::to_string(run.nonfinite) + " is not finite");
  check(run.status, "ogexec");
}

// The saved linearisation as Python sees it: (point, values, gradients, status).
using Linearisation = std::tuple<DoubleArray, DoubleArray, DoubleArray, IntArray>;

void give_linearisation(const Configured& c, const Linearisation& state) {
  const auto& [point, values, gradients, status] = state;
  require_size(point, c.n(), "state point");
  require_size(values, c.m() + 1, "state values");
  if (gradients.ndim() != 2 || gradients.shape(0) != c.m() + 1 || gradients.shape(1) != c.n())
    throw py::value_error("state gradients must have shape (" + std::to_string(c.m() + 1) + ", " +
                          std::to_string(c.n()) + ")");
  require_size(status, c.m(), "state status");
  check(ogssst(c.get(), point.data(), values.data(), gradients.data(), status.data()), "the sensitivity state");
}

// Optimise; the report dict is filled before any error is raised, so that the caller keeps the
// counters and the best point evaluated even when a callback failed.
py::dict optimize(DoubleArray x0, IntArray output_types, py::object fitness, py::object gradient,
                  py::dict settings, py::dict report) {
  const py::ssize_t n = x0.size();
  if (x0.ndim() != 1 || n < 1) throw py::value_error("x0 must be a non-empty 1-D array");
  const py::ssize_t m = output_types.size() - 1;
  Callbacks cb{fitness, gradient, settings["log"], settings["history"], std::nullopt,
               optional_setting(settings, "batch_fitness")};
  py::array_t<double> x({n});
  std::memcpy(x.mutable_data(), x0.data(), sizeof(double) * n);
  py::array_t<double> y({m + 1});
  report["active"] = py::none();
  report["multipliers"] = py::none();
  report["best_x"] = py::none();
  report["best_y"] = py::none();
  Run run;
  {
    Configured c(n, output_types, settings, cb);
    run = execute(c, x.mutable_data(), y.mutable_data(), cb);
    const py::ssize_t rows = std::max<py::ssize_t>(m, 0);
    py::array_t<int> active({rows});
    py::array_t<double> multipliers({rows}), best_x({n}), best_y({m + 1});
    if (ogmult(c.get(), active.mutable_data(), multipliers.mutable_data()) == OG_STATUS_OK) {
      report["active"] = active;
      report["multipliers"] = multipliers;
    }
    if (ogbest(c.get(), best_x.mutable_data(), best_y.mutable_data()) == OG_STATUS_OK) {
      report["best_x"] = best_x;
      report["best_y"] = best_y;
    }
  }
  report["x"] = x;
  report["y"] = y;
  report["result"] = run.result;
  report["reason"] = run.reason;
  report["iterations"] = run.iterations;
  report["fitness_calls"] = run.fitness_calls;
  report["gradient_calls"] = run.gradient_calls;
  raise_errors(cb, run);
  return report;
}

py::tuple prepare_sensitivity(DoubleArray x0, IntArray output_types, py::object fitness, py::object gradient,
                              py::dict settings) {
  const py::ssize_t n = x0.size();
  if (x0.ndim() != 1 || n < 1) throw py::value_error("x must be a non-empty 1-D array");
  const py::ssize_t m = output_types.size() - 1;
  Callbacks cb{fitness, gradient, settings["log"], py::none(), std::nullopt,
               optional_setting(settings, "batch_fitness")};
  py::array_t<double> x({n});
  std::memcpy(x.mutable_data(), x0.data(), sizeof(double) * n);
  py::array_t<double> y({m + 1}), point({n}), values({m + 1}), gradients({m + 1, n});
  py::array_t<int> status({m});
  Run run;
  {
    Configured c(n, output_types, settings, cb);
    check(ogsopt(c.get(), -1), "sensitivity mode");
    run = execute(c, x.mutable_data(), y.mutable_data(), cb);
    if (run.status == OG_STATUS_OK && !cb.error)
      check(oggsst(c.get(), point.mutable_data(), values.mutable_data(), gradients.mutable_data(),
                   status.mutable_data()),
            "the sensitivity state");
  }
  raise_errors(cb, run);
  return py::make_tuple(py::make_tuple(point, values, gradients, status), y, run.result, run.fitness_calls,
                        run.gradient_calls);
}

py::tuple sensitivity_matrices(Linearisation state, IntArray output_types, py::dict settings) {
  const py::ssize_t n = std::get<0>(state).size();
  const py::ssize_t m = output_types.size() - 1;
  Callbacks cb{py::none(), py::none(), settings["log"], py::none(), std::nullopt};
  py::array_t<int> active({m});
  py::array_t<double> cc({m + 1, m}), cp({m + 1, n}), vc({n, m}), vp({n, n});
  int status = 0;
  {
    Configured c(n, output_types, settings, cb);
    give_linearisation(c, state);
    status = ogsens(c.get(), active.mutable_data(), cc.mutable_data(), cp.mutable_data(), vc.mutable_data(),
                    vp.mutable_data());
  }
  if (cb.error) throw std::move(*cb.error);
  check(status, "ogsens");
  return py::make_tuple(active, cc, cp, vc, vp);
}

py::tuple linear_update(Linearisation state, IntArray output_types, py::dict settings, py::object deltas,
                        py::object fitness) {
  const py::ssize_t n = std::get<0>(state).size();
  const py::ssize_t m = output_types.size() - 1;
  Callbacks cb{fitness, py::none(), settings["log"], py::none(), std::nullopt};
  py::array_t<double> x({n}), y({m + 1});
  Run run;
  {
    Configured c(n, output_types, settings, cb);
    give_linearisation(c, state);
    if (deltas.is_none()) {
      check(ogsopt(c.get(), 1), "sensitivity mode");
    } else {
      auto shift = deltas.cast<DoubleArray>();
      require_size(shift, m, "constraint deltas");
      check(ogsopt(c.get(), 2), "sensitivity mode");
      check(ogcdel(c.get(), shift.data()), "constraint deltas");
    }
    run = execute(c, x.mutable_data(), y.mutable_data(), cb);
  }
  raise_errors(cb, run);
  return py::make_tuple(x, y, run.result, run.fitness_calls);
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = R"doc(Low-level bridge to the optgra engine: one engine session per call.

Every function takes the engine's output types (constraints, then the merit) and a settings dict
with the keys lower, upper, tolerances, priorities, variable_scales, variable_types,
derivative_mode, difference_steps, max_iterations, max_correction_iterations, max_distance,
probe_distance, method, max_evaluations (0: none), time_limit (seconds, 0: none), log_level and
log (a callable(level, message) or None), and optionally batch_fitness: a callable(points) that
receives a finite-difference stencil as an (n_points, n) array and returns the (n_points, m_user + 1)
raw outputs, called once per stencil instead of fitness once per point (None or absent: fitness).
fitness(x)
returns the m_user + 1 raw outputs at x (constraints, then the merit); gradient(x) returns their
gradients as an (m_user + 1, n) array, or is None for finite differences.  Finite bounds become
the constraint rows m_user + 1 .. m, formed by the engine.)doc";
  m.def("optimize", &optimize, py::arg("x0"), py::arg("output_types"), py::arg("fitness"),
        py::arg("gradient"), py::arg("settings"), py::arg("report"),
        "Optimise from x0 and fill the dict report (also returned): x, y (the m + 1 raw outputs at "
        "x), result, reason (why the run ended: OG_STOP_* of optgra.h), iterations, fitness_calls, gradient_calls, active (m, 0/1) and multipliers (m) "
        "after an optimal run (else None), best_x and best_y (the best point evaluated, else None).  "
        "The report is filled even when a callback's exception is then raised.  settings may add "
        "history, a callable(iteration, x, y) called at every linearisation.");
  m.def("prepare_sensitivity", &prepare_sensitivity, py::arg("x"), py::arg("output_types"),
        py::arg("fitness"), py::arg("gradient"), py::arg("settings"),
        "Linearise at x; returns (state, y, feasible, fitness_calls, gradient_calls) with state = "
        "(point, values, gradients (m + 1, n), status (m)).");
  m.def("sensitivity_matrices", &sensitivity_matrices, py::arg("state"), py::arg("output_types"),
        py::arg("settings"),
        "Raw sensitivity matrices of a state: (active (m), CC (m + 1, m), CP (m + 1, n), VC (n, m), "
        "VP (n, n)).  No callback is made.");
  m.def("linear_update", &linear_update, py::arg("state"), py::arg("output_types"), py::arg("settings"),
        py::arg("deltas") = py::none(), py::arg("fitness") = py::none(),
        "Linear update of a state, with the constraints shifted by deltas (m) or with new outputs "
        "from one call of fitness at the state's point; returns (x, y, success, fitness_calls).");
}
