!> Vector kernels: the scalar product and the Euclidean norm used throughout the engine.
!>
!> The intrinsics are slow here: dot_product is one serial chain of additions (no reordering is
!> allowed without -ffast-math, so it is not vectorised), and norm2 rescales at every element
!> (a division and a branch each).  dot sums in LANES interleaved partial sums,
!>     x.y = sum_l s_l,   s_l = sum_k x(l + k LANES) y(l + k LANES),
!> which the compiler turns into SIMD code, in a fixed order: the result is the same bitwise at
!> every vector width, as long as multiply-adds are not fused (the native build sets
!> -ffp-contract=off; portable x86-64 code has no fused instructions).  norm takes sqrt(x.x)
!> and falls back to the scaled norm2 only when x.x has overflowed or may have lost its small
!> terms to underflow.  all_finite sums x_i * 0 the same way: 0 for finite x_i, NaN for an
!> infinite or NaN one (all(ieee_is_finite(x)) exits at the first failure, and is therefore
!> not vectorised: 3 times slower on a 400 x 800 Jacobian).  Like the fixed order of dot, this
!> needs IEEE arithmetic: the engine must not be built with -ffast-math or -ffinite-math-only,
!> under which x * 0 folds to 0.
module optgra_vector
   use optgra_kinds, only: dp
   implicit none
   private

   public :: dot, norm, all_finite

   integer, parameter :: LANES = 8
   !> sqrt(x.x) is exact to rounding while SMALL <= x.x <= huge: no square has overflowed, and the
   !> terms lost to underflow (each below tiny) add up to less than n eps of x.x.
   real(dp), parameter :: SMALL = tiny(1.0_dp) / epsilon(1.0_dp)

contains

   !> x . y (size(y) >= size(x)).
   pure real(dp) function dot(x, y)
      real(dp), intent(in) :: x(:), y(:)
      real(dp) :: s(LANES)
      integer :: i, full

      full = size(x) - mod(size(x), LANES)
      s = 0.0_dp
      do i = 1, full, LANES
         s = s + x(i:i + LANES - 1) * y(i:i + LANES - 1)
      end do
      dot = ((s(1) + s(5)) + (s(2) + s(6))) + ((s(3) + s(7)) + (s(4) + s(8)))
      do i = full + 1, size(x)
         dot = dot + x(i) * y(i)
      end do
   end function dot

   !> ||x||_2.
   pure real(dp) function norm(x)
      real(dp), intent(in) :: x(:)
      real(dp) :: squares

      squares = dot(x, x)
      if (squares >= SMALL .and. squares <= huge(1.0_dp)) then
         norm = sqrt(squares)
      else if (squares == 0.0_dp .and. all(x == 0.0_dp)) then
         norm = 0.0_dp
      else
         norm = norm2(x)
      end if
   end function norm

   !> Every x_i finite (neither infinite nor NaN).
   pure logical function all_finite(x)
      real(dp), intent(in) :: x(:)
      real(dp) :: s(LANES), total
      integer :: i, full

      full = size(x) - mod(size(x), LANES)
      s = 0.0_dp
      do i = 1, full, LANES
         s = s + x(i:i + LANES - 1) * 0.0_dp
      end do
      total = sum(s)
      do i = full + 1, size(x)
         total = total + x(i) * 0.0_dp
      end do
      all_finite = total == 0.0_dp
   end function all_finite

end module optgra_vector
