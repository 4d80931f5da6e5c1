!> The engine state: everything one optimisation or sensitivity call needs, in one value.
module optgra_state
   use optgra_kinds
   use optgra_problem, only: problem_data, problem_allocate
   use optgra_evaluation, only: evaluator
   use optgra_active_set, only: factorisation
   use optgra_log, only: logger
   implicit none
   private

   public :: engine_state, iteration_memory, state_allocate

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
      real(dp) :: step_length = 0.0_dp                ! length of the last optimisation step
      real(dp) :: predicted_gain = 0.0_dp             ! merit gain its model predicted
   end type iteration_memory

   type :: engine_state
      type(problem_data) :: problem
      type(evaluator) :: evaluator
      type(logger) :: log
      type(factorisation) :: factor
      type(iteration_memory) :: memory
      real(dp), allocatable :: x(:)                  ! (n) current internal point
      real(dp), allocatable :: c(:)                  ! (m+1) current internal outputs
      real(dp), allocatable :: jacobian(:, :)        ! (n, m+1) G, fixed rows zero
      real(dp), allocatable :: full_jacobian(:, :)   ! (n, m+1) G with parameter rows
      integer :: sensitivity_mode = 0
   end type engine_state

contains

   subroutine state_allocate(st, n, m, info)
      type(engine_state), intent(inout) :: st
      integer, intent(in) :: n, m
      integer, intent(out) :: info
      integer :: ierr

      call problem_allocate(st%problem, n, m, info)
      if (info /= STATUS_OK) return
      allocate (st%x(n), st%c(m + 1), st%jacobian(n, m + 1), st%full_jacobian(n, m + 1), &
                st%memory%reference_point(n), st%memory%previous_reference(n), &
                st%memory%reference_values(m + 1), st%memory%previous_direction(n), &
                st%memory%previous_gradient(n), st%memory%previous_status(m), stat=ierr)
      info = merge(STATUS_OK, STATUS_OUT_OF_MEMORY, ierr == 0)
      if (ierr /= 0) return
      st%x = 0.0_dp
      st%c = 0.0_dp
      st%jacobian = 0.0_dp
      st%full_jacobian = 0.0_dp
   end subroutine state_allocate

end module optgra_state
