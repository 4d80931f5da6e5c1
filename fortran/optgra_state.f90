!> The engine state: everything one optimisation or sensitivity call needs, in one value.
module optgra_state
   use optgra_kinds
   use optgra_problem, only: problem_data, problem_allocate, problem_normalise
   use optgra_evaluation, only: evaluator, evaluator_allocate, set_bound_columns
   use optgra_active_set, only: factorisation, factor_allocate
   use optgra_log, only: logger
   implicit none
   private

   public :: engine_state, iteration_memory, linearisation, state_allocate, state_start_run
   public :: forget_last_step

   !> Curvature pairs (s, y) the quasi-Newton direction of method 2 keeps.
   integer, parameter, public :: CURVATURE_PAIRS = 10

   !> Sensitivity modes of a run (ogsopt).
   integer, parameter, public :: MODE_OPTIMISE = 0        ! optimise (the default)
   integer, parameter, public :: MODE_PREPARE = -1        ! linearise at x and find its active set
   integer, parameter, public :: MODE_NEW_OUTPUTS = 1     ! linear update: new values at the point
   integer, parameter, public :: MODE_SHIFTED_OUTPUTS = 2 ! linear update: constraints shifted

   !> What one iteration hands to the next.
   type :: iteration_memory
      real(dp), allocatable :: reference_point(:)     ! (n) x_ref, where G was taken
      real(dp), allocatable :: previous_reference(:)  ! (n) x_ref of the previous iteration
      real(dp), allocatable :: reference_values(:)    ! (m+1) c at x_ref
      real(dp), allocatable :: previous_direction(:)  ! (n) last search direction d
      real(dp), allocatable :: previous_gradient(:)   ! (n) last projected merit gradient g
      integer, allocatable :: previous_status(:)      ! (m) statuses at the end of the last step
      real(dp) :: moved = 0.0_dp                      ! distance moved in this iteration
      real(dp) :: radius = 0.0_dp                     ! current step radius (<= max_distance)
      real(dp) :: correction_radius = 0.0_dp          ! radius of the correction's moves about
                                                      ! x_ref (<= max_distance)
      real(dp) :: step_length = 0.0_dp                ! length of the last optimisation step
      real(dp) :: predicted_gain = 0.0_dp             ! merit gain its model predicted
      real(dp) :: gain_ratio = 0.0_dp                 ! recent ratio of successive step gains
      ! the last CURVATURE_PAIRS moves s between linearisation points and the changes y of the
      ! projected gradient of -merit over them (s.y > 0), a ring: newest_pair is the latest
      real(dp), allocatable :: pair_s(:, :), pair_y(:, :)  ! (n, CURVATURE_PAIRS)
      integer :: pairs = 0, newest_pair = 0
      real(dp) :: step_curvature = 0.0_dp             ! b of the last step's merit model
                                                      ! dm(t) = a t + b t^2 (0: none yet)
   end type iteration_memory

   !> A linearisation kept for sensitivity analysis and linear updates, in raw units so that it
   !> does not depend on the scaling of the session that reads it:
   !> outputs C(X) (engine order, merit last), their gradients dC/dX (parameters included) and
   !> the status of every constraint (> 0: position in the active list; STATUS_CANDIDATE,
   !> STATUS_PASSIVE or STATUS_IGNORED otherwise).
   type :: linearisation
      logical :: present = .false.
      real(dp), allocatable :: point(:)        ! (n) X
      real(dp), allocatable :: values(:)       ! (m+1) C(X)
      real(dp), allocatable :: gradients(:, :) ! (n, m+1) dC_j/dX_i
      integer, allocatable :: status(:)        ! (m)
      real(dp), allocatable :: shift(:)        ! (m) raw shifts Delta: constraints read C - Delta
   end type linearisation

   type :: engine_state
      type(problem_data) :: problem
      type(evaluator) :: evaluator
      type(logger) :: log
      type(factorisation) :: factor
      type(iteration_memory) :: memory
      real(dp), allocatable :: x(:)                  ! (n) current internal point
      real(dp), allocatable :: c(:)                  ! (m+1) current internal outputs
      real(dp), allocatable :: jacobian(:, :)        ! (n, m+1) G, fixed rows zero; in an
                                                     ! optimisation its bound rows' columns are
                                                     ! never touched (see state_start_run)
      real(dp), allocatable :: full_jacobian(:, :)   ! (n, m+1) G with parameter rows (sensitivity
                                                     ! runs only, see state_start_run)
      type(linearisation) :: saved
      !> Lagrange multipliers of the constraints (raw units, 0 when inactive) and the active set
      !> at the solution of an optimal run.
      logical :: have_multipliers = .false.
      real(dp), allocatable :: multipliers(:)      ! (m)
      logical, allocatable :: active(:)            ! (m)
      integer :: sensitivity_mode = MODE_OPTIMISE
      integer :: stop_reason = STOP_NONE             ! STOP_*: why the last optimisation ended
   end type engine_state

contains

   subroutine state_allocate(st, n, m, info)
      type(engine_state), intent(inout) :: st
      integer, intent(in) :: n, m
      integer, intent(out) :: info
      integer :: ierr

      call problem_allocate(st%problem, n, m, info)
      if (info /= STATUS_OK) return
      allocate (st%x(n), st%c(m + 1), st%jacobian(n, m + 1), &
                st%memory%reference_point(n), st%memory%previous_reference(n), &
                st%memory%reference_values(m + 1), st%memory%previous_direction(n), &
                st%memory%previous_gradient(n), st%memory%previous_status(m), &
                st%memory%pair_s(n, CURVATURE_PAIRS), st%memory%pair_y(n, CURVATURE_PAIRS), &
                st%saved%point(n), st%saved%values(m + 1), &
                st%saved%status(m), st%saved%shift(m), st%multipliers(m), st%active(m), stat=ierr)
      info = merge(STATUS_OK, STATUS_OUT_OF_MEMORY, ierr == 0)
      if (ierr /= 0) return
      st%x = 0.0_dp
      st%c = 0.0_dp
      st%saved%shift = 0.0_dp
      st%multipliers = 0.0_dp
      st%active = .false.
   end subroutine state_allocate

   !> Check the configuration and size the run's work arrays; every run starts here.  A run
   !> that saves or reads a linearisation (with_parameters) also needs the full Jacobian with the
   !> parameters' rows; an optimisation does not, and does not pay for it.
   subroutine state_start_run(st, with_parameters, info)
      type(engine_state), intent(inout) :: st
      logical, intent(in) :: with_parameters
      integer, intent(out) :: info
      integer :: ierr

      call problem_normalise(st%problem, info)
      if (info /= STATUS_OK) return
      call evaluator_allocate(st%evaluator, st%problem, info)
      if (info /= STATUS_OK) return
      if (with_parameters .and. .not. allocated(st%full_jacobian)) then
         allocate (st%full_jacobian(st%problem%n, st%problem%m + 1), stat=ierr)
         if (ierr /= 0) then
            info = STATUS_OUT_OF_MEMORY
            return
         end if
         st%full_jacobian = 0.0_dp
      end if
      ! A bound row's gradient is slope_b e_i (problem%bound_slope).  An optimisation reads it from
      ! there and never touches the bound rows' columns of the working Jacobian: with 2n bound
      ! rows they are most of its (n, m+1) entries, and memory never touched costs nothing (no
      ! page is mapped).  The sensitivity runs read whole columns and have them written.
      st%jacobian(:, 1:st%problem%m_user) = 0.0_dp
      st%jacobian(:, st%problem%m + 1) = 0.0_dp
      if (with_parameters) then
         call set_bound_columns(st%problem, st%jacobian, .false.)
         call set_bound_columns(st%problem, st%full_jacobian, .true.)
      end if
      st%memory%correction_radius = st%problem%max_distance
      call factor_allocate(st%factor, st%problem%n, st%problem%m, st%problem%bound_variable, &
                           st%problem%bound_slope, st%problem%blas, info)
   end subroutine state_start_run

   !> The next optimisation step starts afresh: no active set, conjugate direction or curvature
   !> pair is carried over from the last one (the move to its linearisation point will not be
   !> that step alone; the pairs are cleared at its first pass).
   pure subroutine forget_last_step(mem)
      type(iteration_memory), intent(inout) :: mem
      mem%previous_status = 0
      mem%previous_direction = 0.0_dp
   end subroutine forget_last_step

end module optgra_state
