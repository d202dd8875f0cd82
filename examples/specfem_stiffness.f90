! specfem_stiffness.f90: the spectral-element stiffness kernel of SPECFEM3D_GLOBE (isotropic
! elastic, 5x5x5 GLL points per element) in its Deville form, where the derivatives along the
! three cut-planes of an element are small DGEMMs of shapes (5,25,5), (5,5,5) and (25,5,5).
! The same kernel with plain loops checks the answer. Calls the system BLAS's DGEMM, and
! sample_util.c for the wrapper's statistics.
!
!   specfem-stiffness [nspec [nrepeat]]     (defaults 2000 elements, 10 repetitions)
module stiffness
  use, intrinsic :: iso_c_binding, only: c_double
  implicit none
  private
  public :: dp, ngll, setup_gll, compute_forces

  integer, parameter :: dp = c_double, ngll = 5, ngll2 = ngll * ngll

  ! GLL derivative matrix hprime(i,j) = l_j'(x_i), its transpose, and both times the weights.
  real(dp) :: hprime(ngll, ngll), hprimet(ngll, ngll)
  real(dp) :: hprimewgll(ngll, ngll), hprimewgllt(ngll, ngll)
  real(dp) :: wgllwgll_yz(ngll, ngll), wgllwgll_xz(ngll, ngll), wgllwgll_xy(ngll, ngll)

  interface
    subroutine dgemm(transa, transb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
      import :: c_double
      character, intent(in) :: transa, transb
      integer, intent(in) :: m, n, k, lda, ldb, ldc
      real(c_double), intent(in) :: alpha, beta
      real(c_double), intent(in) :: a(lda, *), b(ldb, *)
      real(c_double), intent(inout) :: c(ldc, *)
    end subroutine dgemm
  end interface

contains

  ! 5 GLL points: 0, +-sqrt(3/7), +-1; weights 32/45, 49/90, 1/10. The derivative matrix from
  ! the Legendre polynomial P4 (Canuto et al., Spectral Methods, 2.3.28).
  subroutine setup_gll()
    real(dp) :: x(ngll), w(ngll), p(ngll)
    integer :: i, j
    x = [-1.0_dp, -sqrt(3.0_dp / 7.0_dp), 0.0_dp, sqrt(3.0_dp / 7.0_dp), 1.0_dp]
    w = [0.1_dp, 49.0_dp / 90.0_dp, 32.0_dp / 45.0_dp, 49.0_dp / 90.0_dp, 0.1_dp]
    p = (35.0_dp * x**4 - 30.0_dp * x**2 + 3.0_dp) / 8.0_dp
    do j = 1, ngll
      do i = 1, ngll
        if (i /= j) then
          hprime(i, j) = p(i) / (p(j) * (x(i) - x(j)))
        else if (i == 1) then
          hprime(i, j) = -5.0_dp
        else if (i == ngll) then
          hprime(i, j) = 5.0_dp
        else
          hprime(i, j) = 0.0_dp
        end if
      end do
    end do
    hprimet = transpose(hprime)
    do j = 1, ngll
      do i = 1, ngll
        hprimewgll(i, j) = w(i) * hprime(i, j)
        wgllwgll_yz(i, j) = w(i) * w(j)
      end do
    end do
    hprimewgllt = transpose(hprimewgll)
    wgllwgll_xz = wgllwgll_yz
    wgllwgll_xy = wgllwgll_yz
  end subroutine setup_gll

  ! t1 = hprime * u (along xi), t2(:,:,k) = u(:,:,k) * hprime^T (eta), t3 = u * hprime^T (gamma).
  subroutine gradient(u, t1, t2, t3, use_blas)
    real(dp), intent(in) :: u(ngll, ngll, ngll)
    real(dp), intent(out) :: t1(ngll, ngll, ngll), t2(ngll, ngll, ngll), t3(ngll, ngll, ngll)
    logical, intent(in) :: use_blas
    integer :: i, j, k, l
    if (use_blas) then
      call dgemm('N', 'N', ngll, ngll2, ngll, 1.0_dp, hprime, ngll, u, ngll, 0.0_dp, t1, ngll)
      do k = 1, ngll
        call dgemm('N', 'N', ngll, ngll, ngll, 1.0_dp, u(1, 1, k), ngll, hprimet, ngll, &
                   0.0_dp, t2(1, 1, k), ngll)
      end do
      call dgemm('N', 'N', ngll2, ngll, ngll, 1.0_dp, u, ngll2, hprimet, ngll, 0.0_dp, t3, ngll2)
    else
      do k = 1, ngll
        do j = 1, ngll
          do i = 1, ngll
            t1(i, j, k) = 0.0_dp
            t2(i, j, k) = 0.0_dp
            t3(i, j, k) = 0.0_dp
            do l = 1, ngll
              t1(i, j, k) = t1(i, j, k) + hprime(i, l) * u(l, j, k)
              t2(i, j, k) = t2(i, j, k) + u(i, l, k) * hprime(j, l)
              t3(i, j, k) = t3(i, j, k) + u(i, j, l) * hprime(k, l)
            end do
          end do
        end do
      end do
    end if
  end subroutine gradient

  ! The weighted transpose: n1 = hprimewgll^T * t1, n2(:,:,k) = t2(:,:,k) * hprimewgll,
  ! n3 = t3 * hprimewgll; then f = -(w_yz n1 + w_xz n2 + w_xy n3).
  subroutine divergence(t1, t2, t3, f, use_blas)
    real(dp), intent(in) :: t1(ngll, ngll, ngll), t2(ngll, ngll, ngll), t3(ngll, ngll, ngll)
    real(dp), intent(out) :: f(ngll, ngll, ngll)
    logical, intent(in) :: use_blas
    real(dp) :: n1(ngll, ngll, ngll), n2(ngll, ngll, ngll), n3(ngll, ngll, ngll)
    integer :: i, j, k, l
    if (use_blas) then
      call dgemm('N', 'N', ngll, ngll2, ngll, 1.0_dp, hprimewgllt, ngll, t1, ngll, 0.0_dp, &
                 n1, ngll)
      do k = 1, ngll
        call dgemm('N', 'N', ngll, ngll, ngll, 1.0_dp, t2(1, 1, k), ngll, hprimewgll, ngll, &
                   0.0_dp, n2(1, 1, k), ngll)
      end do
      call dgemm('N', 'N', ngll2, ngll, ngll, 1.0_dp, t3, ngll2, hprimewgll, ngll, 0.0_dp, &
                 n3, ngll2)
    else
      do k = 1, ngll
        do j = 1, ngll
          do i = 1, ngll
            n1(i, j, k) = 0.0_dp
            n2(i, j, k) = 0.0_dp
            n3(i, j, k) = 0.0_dp
            do l = 1, ngll
              n1(i, j, k) = n1(i, j, k) + hprimewgll(l, i) * t1(l, j, k)
              n2(i, j, k) = n2(i, j, k) + t2(i, l, k) * hprimewgll(l, j)
              n3(i, j, k) = n3(i, j, k) + t3(i, j, l) * hprimewgll(l, k)
            end do
          end do
        end do
      end do
    end if
    do k = 1, ngll
      do j = 1, ngll
        do i = 1, ngll
          f(i, j, k) = -(wgllwgll_yz(j, k) * n1(i, j, k) + wgllwgll_xz(i, k) * n2(i, j, k) &
                         + wgllwgll_xy(i, j) * n3(i, j, k))
        end do
      end do
    end do
  end subroutine divergence

  ! Elastic forces of all elements: displacement gradient, isotropic stress, weighted
  ! divergence. geom(:,:,:,1:9,e) holds xix xiy xiz etax etay etaz gammax gammay gammaz,
  ! geom(:,:,:,10:12,e) the jacobian, lambda and mu.
  subroutine compute_forces(nspec, displ, geom, accel, use_blas)
    integer, intent(in) :: nspec
    real(dp), intent(in) :: displ(ngll, ngll, ngll, 3, nspec), geom(ngll, ngll, ngll, 12, nspec)
    real(dp), intent(out) :: accel(ngll, ngll, ngll, 3, nspec)
    logical, intent(in) :: use_blas
    real(dp) :: t(ngll, ngll, ngll, 3, 3)  ! t(:,:,:,direction,component)
    real(dp) :: s(ngll, ngll, ngll, 3, 3)
    real(dp) :: du(3, 3), sig(3, 3), jm(3, 3)
    real(dp) :: jac, lam, mu, dv
    integer :: e, c, i, j, k, a, b
    do e = 1, nspec
      do c = 1, 3
        call gradient(displ(:, :, :, c, e), t(:, :, :, 1, c), t(:, :, :, 2, c), &
                      t(:, :, :, 3, c), use_blas)
      end do
      do k = 1, ngll
        do j = 1, ngll
          do i = 1, ngll
            ! jm(a,b): d(xi_b)/d(x_a), so du(c,a) = sum_b jm(a,b) * t(direction b, component c)
            do b = 1, 3
              do a = 1, 3
                jm(a, b) = geom(i, j, k, a + 3 * (b - 1), e)
              end do
            end do
            jac = geom(i, j, k, 10, e)
            lam = geom(i, j, k, 11, e)
            mu = geom(i, j, k, 12, e)
            do c = 1, 3
              do a = 1, 3
                du(c, a) = jm(a, 1) * t(i, j, k, 1, c) + jm(a, 2) * t(i, j, k, 2, c) &
                           + jm(a, 3) * t(i, j, k, 3, c)
              end do
            end do
            dv = du(1, 1) + du(2, 2) + du(3, 3)
            do b = 1, 3
              do a = 1, 3
                sig(a, b) = mu * (du(a, b) + du(b, a))
              end do
              sig(b, b) = sig(b, b) + lam * dv
            end do
            do c = 1, 3
              do b = 1, 3
                s(i, j, k, b, c) = jac * (sig(c, 1) * jm(1, b) + sig(c, 2) * jm(2, b) &
                                          + sig(c, 3) * jm(3, b))
              end do
            end do
          end do
        end do
      end do
      do c = 1, 3
        call divergence(s(:, :, :, 1, c), s(:, :, :, 2, c), s(:, :, :, 3, c), &
                        accel(:, :, :, c, e), use_blas)
      end do
    end do
  end subroutine compute_forces

end module stiffness

program specfem_stiffness
  use, intrinsic :: iso_fortran_env, only: int64
  use stiffness
  implicit none

  interface
    subroutine sample_wrapper_print_stdout() bind(c, name='sample_wrapper_print_stdout')
    end subroutine sample_wrapper_print_stdout
  end interface

  integer :: nspec, nrepeat, r, e, q, i, j, k, status
  character(len=32) :: arg
  real(dp), allocatable :: displ(:, :, :, :, :), geom(:, :, :, :, :)
  real(dp), allocatable :: accel(:, :, :, :, :), accel_ref(:, :, :, :, :)
  integer(int64) :: c0, c1, rate
  real(dp) :: t_blas, t_loops, err, scale, flop
  real(dp), parameter :: tol = 1.0e-12_dp * 5 * 3  ! rounding: relative 1e-12 per term, 3 stages

  nspec = 2000
  nrepeat = 10
  do i = 1, min(command_argument_count(), 2)
    call get_command_argument(i, arg)
    read (arg, *, iostat=status) j
    if (status /= 0 .or. j < 1 .or. command_argument_count() > 2) then
      write (*, '(a)') 'usage: specfem-stiffness [nspec [nrepeat]]'
      error stop 2
    end if
    if (i == 1) nspec = j
    if (i == 2) nrepeat = j
  end do

  call setup_gll()
  allocate (displ(ngll, ngll, ngll, 3, nspec), geom(ngll, ngll, ngll, 12, nspec))
  allocate (accel(ngll, ngll, ngll, 3, nspec), accel_ref(ngll, ngll, ngll, 3, nspec))
  ! A smooth deterministic field and a mildly deformed mesh (jacobian matrix near identity).
  do e = 1, nspec
    do k = 1, ngll
      do j = 1, ngll
        do i = 1, ngll
          do q = 1, 3
            displ(i, j, k, q, e) = sin(0.37_dp * (i + 5 * j + 25 * k + 125 * e) + q)
          end do
          do q = 1, 9
            geom(i, j, k, q, e) = 0.1_dp * cos(0.11_dp * (i + 5 * j + 25 * k) + 0.7_dp * q + e)
          end do
          geom(i, j, k, 1, e) = geom(i, j, k, 1, e) + 1.0_dp
          geom(i, j, k, 5, e) = geom(i, j, k, 5, e) + 1.0_dp
          geom(i, j, k, 9, e) = geom(i, j, k, 9, e) + 1.0_dp
          geom(i, j, k, 10, e) = 1.0_dp + 0.05_dp * sin(real(i * j * k + e, dp))
          geom(i, j, k, 11, e) = 2.0_dp + 0.5_dp * cos(real(i + j + k + e, dp))
          geom(i, j, k, 12, e) = 1.0_dp + 0.3_dp * sin(real(i + 2 * j + 3 * k + e, dp))
        end do
      end do
    end do
  end do

  call system_clock(c0, rate)
  call compute_forces(nspec, displ, geom, accel_ref, .false.)
  call system_clock(c1)
  t_loops = real(c1 - c0, dp) / real(rate, dp)

  call system_clock(c0)
  do r = 1, nrepeat
    call compute_forces(nspec, displ, geom, accel, .true.)
  end do
  call system_clock(c1)
  t_blas = real(c1 - c0, dp) / real(rate, dp) / nrepeat

  scale = maxval(abs(accel_ref))
  err = maxval(abs(accel - accel_ref)) / max(scale, tiny(scale))
  ! 42 DGEMMs per element: 3 components x (1 + 5 + 1) x (gradient, divergence).
  flop = 3.0_dp * 2.0_dp * 3.0_dp * 2.0_dp * ngll**4 * real(nspec, dp)

  write (*, '(a,i0,a,i0,a,i0,a)') 'specfem-stiffness: ', nspec, ' elements of 5x5x5, ', &
    nrepeat, ' repetitions, ', 42 * nspec * nrepeat, ' dgemm calls'
  write (*, '(a,f10.4,a)') 'timing with loops = ', t_loops, ' s per repetition'
  write (*, '(a,f10.4,a,f7.2,a)') 'timing with DGEMM = ', t_blas, ' s per repetition (', &
    1.0e-9_dp * flop / max(t_blas, 1.0e-12_dp), ' GFLOP/s of DGEMM work)'
  write (*, '(a,f10.1,a)') 'time ', 1.0e3_dp * t_blas * nrepeat, ' ms'
  if (err <= tol) then
    write (*, '(a,es9.2,a)') 'max rel. error vs loops ', err, '  ok'
  else
    write (*, '(a,es9.2,a)') 'max rel. error vs loops ', err, '  WRONG'
  end if
  flush (6)
  call sample_wrapper_print_stdout()
  if (err > tol) error stop 1
end program specfem_stiffness
