!> The engine's log: messages go to a caller-supplied C callback, never to a Fortran unit.
module optgra_log
   use, intrinsic :: iso_c_binding
   use optgra_kinds
   implicit none
   private

   public :: logger, log_callback, log_message, log_enabled

   abstract interface
      !> Receive one log line of the given level (1 = summary ... 4 = full detail).
      subroutine log_callback(context, level, message, length) bind(c)
         import :: c_ptr, c_int, c_char
         type(c_ptr), value :: context
         integer(c_int), value :: level, length
         character(kind=c_char), intent(in) :: message(*)
      end subroutine log_callback
   end interface

   type :: logger
      integer :: level = 0
      type(c_funptr) :: callback = c_null_funptr
      type(c_ptr) :: context = c_null_ptr
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

end module optgra_log
