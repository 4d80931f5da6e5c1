// pyoptgra._core: the bridge between Python and the Fortran engine.
//
// One engine session per call: oginit -> configuration -> ogexec -> ogclos, the close guaranteed
// by RAII.  The GIL is released while the engine runs and re-taken inside the callbacks.  A Python
// exception raised in a callback is stored, the engine is told to stop, the session closes, and
// the original exception is raised again.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>

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
  std::optional<py::error_already_set> error;
};

// The point handed to a callback: a fresh array that owns its data.  A view of engine memory
// would change under the callback's feet when it keeps x (a cache, a recorded history, a
// traceback's frame locals) and dangle once the session is closed; copying n doubles is cheap
// next to the Python call.
py::array_t<double> point(const double* data, int n) {
  return py::array_t<double>(static_cast<py::ssize_t>(n), data);
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

py::tuple optimize(DoubleArray x0, IntArray output_types, py::object fitness, py::object gradient,
                   DoubleArray lower, DoubleArray upper, DoubleArray tolerances, IntArray priorities,
                   DoubleArray variable_scales, IntArray variable_types, int derivative_mode,
                   DoubleArray difference_steps, long long max_iterations, long long max_correction_iterations,
                   double max_distance, double probe_distance, int method, int log_level,
                   py::object log) {
  const py::ssize_t n = x0.size();
  const py::ssize_t m = output_types.size() - 1;
  if (x0.ndim() != 1 || n < 1) throw py::value_error("x0 must be a non-empty 1-D array");
  if (output_types.ndim() != 1 || m < 0) throw py::value_error("output_types must hold at least the merit type");
  require_size(lower, n, "lower");
  require_size(upper, n, "upper");
  require_size(tolerances, m + 1, "tolerances");
  require_size(priorities, m + 1, "priorities");
  require_size(variable_scales, n, "variable_scales");
  require_size(variable_types, n, "variable_types");
  require_size(difference_steps, n, "difference_steps");

  Callbacks cb{fitness, gradient, log, std::nullopt};
  py::array_t<double> x({n});
  std::memcpy(x.mutable_data(), x0.data(), sizeof(double) * n);
  py::array_t<double> y({m + 1});
  int result = 0, iterations = 0, fitness_calls = 0, gradient_calls = 0, nonfinite = 0, status = 0;
  {
    Session session(static_cast<int>(n), static_cast<int>(m));
    void* s = session.get();
    check(ogbnds(s, lower.data(), upper.data()), "lower/upper bounds");
    check(ogctyp(s, output_types.data()), "output_types");
    check(ogcsca(s, tolerances.data()), "tolerances");
    check(ogcpri(s, priorities.data()), "priorities");
    check(ogvsca(s, variable_scales.data()), "variable_scales");
    check(ogvtyp(s, variable_types.data()), "variable_types");
    check(ogderi(s, derivative_mode, difference_steps.data()), "derivative_mode/difference_steps");
    check(ogdist(s, max_distance, probe_distance), "max_distance/probe_distance");
    // A budget beyond the engine's integer range is unlimited in practice: clamp it.
    const int total = clamp_budget(max_iterations), correction = clamp_budget(max_correction_iterations);
    check(ogiter(s, total, correction, total, total, total), "iteration limits");
    check(ogomet(s, method), "method");
    check(ogwlog(s, log_level, log.is_none() ? nullptr : &log_trampoline, &cb), "log_level");
    double* xp = x.mutable_data();
    double* yp = y.mutable_data();
    {
      py::gil_scoped_release release;
      status = ogexec(s, xp, yp, &result, &iterations, &fitness_trampoline,
                      gradient.is_none() ? nullptr : &gradient_trampoline, &cb);
    }
    ogstat(s, &fitness_calls, &gradient_calls, &nonfinite);
  }
  if (cb.error) throw std::move(*cb.error);
  if (status == OG_STATUS_NONFINITE_OUTPUT)
    throw py::value_error("engine output " + std::to_string(nonfinite) + " is not finite");
  check(status, "ogexec");
  return py::make_tuple(x, y, result, iterations, fitness_calls, gradient_calls);
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "Low-level bridge to the optgra engine (one engine session per call).";
  m.def("optimize", &optimize, py::arg("x0"), py::arg("output_types"), py::arg("fitness"),
        py::arg("gradient"), py::kw_only(), py::arg("lower"), py::arg("upper"), py::arg("tolerances"),
        py::arg("priorities"), py::arg("variable_scales"), py::arg("variable_types"),
        py::arg("derivative_mode"), py::arg("difference_steps"), py::arg("max_iterations"),
        py::arg("max_correction_iterations"), py::arg("max_distance"), py::arg("probe_distance"),
        py::arg("method"), py::arg("log_level") = 0, py::arg("log") = py::none(),
        R"doc(Optimise from x0 and return (x, y, result, iterations, fitness_calls, gradient_calls).

fitness(x) returns the m_user + 1 raw outputs at x (constraints, then the merit); gradient(x)
returns their gradients as an (m_user + 1, n) array, or is None for finite differences.  Bounds
that are finite become the constraint rows m_user + 1 .. m, formed by the engine.  y holds all
m + 1 raw outputs at x.)doc");
}
