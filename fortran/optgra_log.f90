!> The engine's log: messages go to a caller-supplied C callback, never to a Fortran unit.
module optgra_log
   use, intrinsic :: iso_c_binding
   use optgra_kinds
   implicit none
   private

   public :: logger, log_callback, history_callback, log_message, log_enabled, log_iteration

   abstract interface
      !> Receive one log line of the given level (1 = summary ... 4 = full detail).
      subroutine log_callback(context, level, message, length) bind(c)
         import :: c_ptr, c_int, c_char
         type(c_ptr), value :: context
         integer(c_int), value :: level, length
         character(kind=c_char), intent(in) :: message(*)
      end subroutine log_callback

      !> Receive the point of one iteration (raw x, n) and the raw outputs there (n_out, engine
      !> order) at the moment it is linearised.
      subroutine history_callback(context, iteration, n, x, n_out, y) bind(c)
         import :: c_ptr, c_int, c_double
         type(c_ptr), value :: context
         integer(c_int), value :: iteration, n, n_out
         real(c_double), intent(in) :: x(n), y(n_out)
      end subroutine history_callback
   end interface

   type :: logger
      integer :: level = 0
      type(c_funptr) :: callback = c_null_funptr
      type(c_ptr) :: context = c_null_ptr
      type(c_funptr) :: history = c_null_funptr
      type(c_ptr) :: history_context = c_null_ptr
   end type logger

contains

   pure logical function log_enabled(lg, level)
      type(logger), intent(in) :: lg
      integer, intent(in) :: level
      log_enabled = level <= lg%level .and. c_associated(lg%callback)
   end function log_enabled

   subroutine log_message(lg, level, text)
      type(logger), intent(in) :: lg
      integer, intent(in) :: level
      character(len=*), intent(in) :: text
      procedure(log_callback), pointer :: emit
      character(kind=c_char), allocatable :: buffer(:)
      integer :: i, length

      if (.not. log_enabled(lg, level)) return
      length = len_trim(text)
      allocate (buffer(max(length, 1)))
      do i = 1, length
         buffer(i) = text(i:i)
      end do
      call c_f_procpointer(lg%callback, emit)
      call emit(lg%context, int(level, c_int), buffer, int(length, c_int))
   end subroutine log_message

   !> Report iteration k at raw point x with raw outputs y to the history callback, if any.
   subroutine log_iteration(lg, k, x, y)
      type(logger), intent(in) :: lg
      integer, intent(in) :: k
      real(dp), intent(in) :: x(:), y(:)
      procedure(history_callback), pointer :: emit

      if (.not. c_associated(lg%history)) return
      call c_f_procpointer(lg%history, emit)
      call emit(lg%history_context, int(k, c_int), int(size(x), c_int), x, int(size(y), c_int), y)
   end subroutine log_iteration

end module optgra_log
