console.log('argocd-dr');
