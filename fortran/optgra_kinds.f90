!> Kinds, status codes and numerical constants shared by every engine module.
module optgra_kinds
   use, intrinsic :: iso_c_binding, only: c_double, c_int
   implicit none
   private

   integer, parameter, public :: dp = c_double

   ! Status codes returned by every C entry point (0 = success).
   integer, parameter, public :: STATUS_OK = 0
   integer, parameter, public :: STATUS_INVALID_ARGUMENT = 1  ! a configuration value is out of range
   integer, parameter, public :: STATUS_CALLBACK_FAILED = 2   ! a callback returned non-zero: stop now
   integer, parameter, public :: STATUS_NONFINITE_OUTPUT = 3  ! a callback delivered NaN or Inf
   integer, parameter, public :: STATUS_OUT_OF_MEMORY = 4
   integer, parameter, public :: STATUS_NOT_READY = 5         ! a required call has not been made
   ! Evaluator states that end a run normally (never returned by an entry point).
   integer, parameter, public :: STATUS_DEADLINE = 6          ! the wall-clock deadline has passed
   integer, parameter, public :: STATUS_BUDGET_SPENT = 7      ! the fitness-call budget is spent
   ! the next point to evaluate is not finite (a step beyond the floating-point range): the run
   ! stops where it stood instead of calling the problem there
   integer, parameter, public :: STATUS_NONFINITE_POINT = 8

   ! Result codes of an optimisation ("finopt").
   integer, parameter, public :: RESULT_OPTIMAL = 1      ! feasible and converged
   integer, parameter, public :: RESULT_MATCHED = 2      ! feasible, iteration budget exhausted
   integer, parameter, public :: RESULT_NOT_MATCHED = 3  ! feasibility never reached
   integer, parameter, public :: RESULT_INFEASIBLE = 4   ! correction error diverging
   integer, parameter, public :: RESULT_TIMEOUT = 5      ! deadline reached

   ! Why an optimisation ended: a finer reading of the result code.
   integer, parameter, public :: STOP_NONE = 0         ! no run, or stopped by a callback or bad data
   integer, parameter, public :: STOP_CONVERGED = 1    ! no step gains a tolerance (RESULT_OPTIMAL)
   integer, parameter, public :: STOP_ITERATIONS = 2   ! max_iterations (or the optimisation budget)
   integer, parameter, public :: STOP_CORRECTIONS = 3  ! max_correction_iterations, never feasible
   integer, parameter, public :: STOP_EVALUATIONS = 4  ! the fitness-call budget
   integer, parameter, public :: STOP_TIMEOUT = 5     ! the wall-clock deadline
   integer, parameter, public :: STOP_STAGNATION = 6   ! the best merit stopped improving
   integer, parameter, public :: STOP_WALL = 7         ! no gain of a tolerance short of a constraint hit
   integer, parameter, public :: STOP_STUCK = 8        ! a correction that cannot move, or a non-finite next point
   integer, parameter, public :: STOP_DIVERGING = 9    ! the distance to feasibility kept growing

   ! Output types as given by the caller (merit: +1 maximise, -1 minimise).
   integer, parameter, public :: TYPE_EQUALITY = 0
   integer, parameter, public :: TYPE_GREATER = 1   ! c >= 0
   integer, parameter, public :: TYPE_LESS = -1     ! c <= 0
   integer, parameter, public :: TYPE_IGNORED = -2

   ! Derivative modes.
   integer, parameter, public :: DERIVATIVES_NONE = 0
   integer, parameter, public :: DERIVATIVES_USER = 1
   integer, parameter, public :: DERIVATIVES_CENTRAL = 2
   integer, parameter, public :: DERIVATIVES_FORWARD = 3
   ! forward differences until an optimisation converges at a point, central ones from there
   integer, parameter, public :: DERIVATIVES_ADAPTIVE = 4
   integer, parameter, public :: DERIVATIVES_CHECK = -1

   ! Constraint status inside the active-set factorisation (> 0: position in the active list).
   integer, parameter, public :: STATUS_CANDIDATE = 0
   integer, parameter, public :: STATUS_PASSIVE = -1
   integer, parameter, public :: STATUS_IGNORED = -2

   !> A tolerance at or above this value removes the output from the problem.
   real(dp), parameter, public :: IGNORE_TOLERANCE = 1.0e9_dp
   !> Half-width of the band (in tolerance units) that counts as "on the boundary".
   real(dp), parameter, public :: BOUNDARY_BAND = 1.0e-6_dp
   !> A rate whose effect over a full radius is below this is insignificant.
   real(dp), parameter, public :: SIGNIFICANT_CHANGE = 1.0e-3_dp
   !> Multipliers at or below this are treated as zero when releasing constraints.
   real(dp), parameter, public :: MULTIPLIER_ZERO = 1.0e-12_dp
end module optgra_kinds
